<#
.SYNOPSIS
    Shared helpers of the CodeB deployment scripts.

.DESCRIPTION
    Names and paths of a CodeB host and its tenants, folder ACLs, the IIS
    application pool and site of a tenant, TLS certificates, and running
    native tools (python, robocopy) with a checked exit code.

    The scripts beside this module import it; the functions hold no state of
    their own. Functions that change the machine do not ask for confirmation
    themselves: the calling script decides with ShouldProcess.

    Host layout (the root is C:\CodeB unless a script is given -Root):

        <root>\app                  the release: app.py, codeb\, templates\, static\, web.config
        <root>\venv                 the shared Python 3.11 virtual environment (wfastcgi lives here)
        <root>\sites\<tenant>       one IIS site: web.config, links to the release, App_Data\<tenant>

    A tenant's site name and application pool name are the tenant name.
#>

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# A tenant name is a DNS label; it also names a folder, an IIS site and a pool.
# Same pattern as codeb/store/names.py (TENANT_PATTERN).
$script:TenantNamePattern = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'

# A public DNS host name (at least two labels), lowercase.
$script:HostNamePattern = '^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$'

# Names Windows reserves in every folder.
$script:WindowsReservedNames = @('con', 'prn', 'aux', 'nul') +
    @(0..9 | ForEach-Object { "com$_" }) +
    @(0..9 | ForEach-Object { "lpt$_" })

# The FastCGI handler in web.config whose scriptProcessor New-CodebTenant rewrites.
$script:HandlerName = 'CodeB-Python'

# What a site folder links to in the release.
$script:CodeFolders = @('codeb', 'templates', 'static')
$script:CodeFiles = @('app.py')

# The IIS SMTP service sends what appears in Pickup; the app writes each mail
# into the staging sibling first (same volume) and then renames it into Pickup.
# Same path as codeb/mail.py (WINDOWS_PICKUP, staging_folder).
$script:MailRoot = 'C:\inetpub\mailroot'

$script:CertificateStore = 'Cert:\LocalMachine\My'

function Assert-CodebAdministrator {
    <#
    .SYNOPSIS
        Throw unless the session runs elevated, as a member of Administrators.
    #>
    [CmdletBinding()]
    param()

    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object System.Security.Principal.WindowsPrincipal($identity)
    if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this script from an elevated PowerShell session (Run as Administrator).'
    }
}

function Assert-CodebTenantName {
    <#
    .SYNOPSIS
        Throw unless Name is a valid tenant name.
    .DESCRIPTION
        A tenant name is a lowercase DNS label (1 to 63 letters, digits and inner
        hyphens) that Windows does not reserve as a device name.
    .PARAMETER Name
        The name to check.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$Name
    )

    if ($Name -cnotmatch $script:TenantNamePattern) {
        throw "'$Name' is not a tenant name: use 1 to 63 lowercase letters, digits and inner hyphens."
    }
    if ($script:WindowsReservedNames -contains $Name) {
        throw "'$Name' is a device name that Windows reserves; choose another tenant name."
    }
}

function ConvertTo-CodebHostName {
    <#
    .SYNOPSIS
        Normalize host names: lowercase, no trailing dot, no duplicates.
    .PARAMETER HostName
        One or more DNS host names, such as login.acme.com.
    .OUTPUTS
        System.String[]
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    $result = New-Object System.Collections.Generic.List[string]
    foreach ($entry in $HostName) {
        $name = $entry.Trim().TrimEnd('.').ToLowerInvariant()
        if ($name -cnotmatch $script:HostNamePattern) {
            throw "'$entry' is not a DNS host name such as login.example.com."
        }
        if (-not $result.Contains($name)) {
            $result.Add($name)
        }
    }
    return $result.ToArray()
}

function Get-CodebLayout {
    <#
    .SYNOPSIS
        The host-level paths of a CodeB installation.
    .PARAMETER Root
        The installation root, such as C:\CodeB.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [ValidateNotNullOrEmpty()]
        [string]$Root
    )

    $fullRoot = [System.IO.Path]::GetFullPath($Root).TrimEnd('\')
    $venv = Join-Path $fullRoot 'venv'
    $python = Join-Path $venv 'Scripts\python.exe'
    $wfastcgi = Join-Path $venv 'Lib\site-packages\wfastcgi.py'

    [pscustomobject]@{
        Root            = $fullRoot
        App             = Join-Path $fullRoot 'app'
        Venv            = $venv
        Python          = $python
        WfastcgiScript  = $wfastcgi
        ScriptProcessor = "$python|$wfastcgi"
        Sites           = Join-Path $fullRoot 'sites'
        Pickup          = Join-Path $script:MailRoot 'Pickup'
        Staging         = Join-Path $script:MailRoot 'CodeB-Staging'
    }
}

function Get-CodebTenantPath {
    <#
    .SYNOPSIS
        The names and paths of one tenant's site.
    .PARAMETER Name
        The tenant name.
    .PARAMETER Root
        The installation root, such as C:\CodeB.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$Root
    )

    Assert-CodebTenantName -Name $Name
    $layout = Get-CodebLayout -Root $Root
    $siteFolder = Join-Path $layout.Sites $Name
    $dataRoot = Join-Path $siteFolder 'App_Data'

    [pscustomobject]@{
        Name       = $Name
        Layout     = $layout
        SiteName   = $Name
        PoolName   = $Name
        SiteFolder = $siteFolder
        WebConfig  = Join-Path $siteFolder 'web.config'
        DataRoot   = $dataRoot
        TenantData = Join-Path $dataRoot $Name
        TenantFile = Join-Path (Join-Path $dataRoot $Name) 'tenant.json'
    }
}

function Assert-CodebHostPrepared {
    <#
    .SYNOPSIS
        Throw unless Initialize-CodebHost.ps1 has prepared this host.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    $required = @(
        (Join-Path $Layout.App 'app.py'),
        (Join-Path $Layout.App 'web.config'),
        $Layout.Python,
        $Layout.WfastcgiScript
    )
    foreach ($path in $required) {
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            throw "'$path' is missing: prepare the host with Initialize-CodebHost.ps1 -Root '$($Layout.Root)' first."
        }
    }
}

function Invoke-CodebNative {
    <#
    .SYNOPSIS
        Run a native program and throw if its exit code is not zero.
    .DESCRIPTION
        Output goes to the host, or is returned with -CaptureOutput. Variables in
        -Environment are set for the run and restored afterwards; a $null value
        removes the variable for the run.
    .PARAMETER FilePath
        The program to run.
    .PARAMETER ArgumentList
        Its arguments, one element each (no quoting needed).
    .PARAMETER WorkingDirectory
        The folder to run it in.
    .PARAMETER Environment
        Process environment variables for the run.
    .PARAMETER CaptureOutput
        Return the program's output lines instead of showing them.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [ValidateNotNullOrEmpty()]
        [string]$FilePath,

        [string[]]$ArgumentList = @(),

        [string]$WorkingDirectory,

        [hashtable]$Environment = @{},

        [switch]$CaptureOutput
    )

    # Windows PowerShell turns each stderr line of a native program into an
    # error record; with 'Stop' the first warning pip prints would abort.
    # The exit code decides instead.
    $ErrorActionPreference = 'Continue'

    $saved = @{}
    foreach ($key in $Environment.Keys) {
        $saved[$key] = [Environment]::GetEnvironmentVariable($key, 'Process')
        [Environment]::SetEnvironmentVariable($key, $Environment[$key], 'Process')
    }
    if ($WorkingDirectory) {
        Push-Location -LiteralPath $WorkingDirectory
    }
    try {
        Write-Verbose "Running: $FilePath $($ArgumentList -join ' ')"
        if ($CaptureOutput) {
            $output = @(& $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" })
        }
        else {
            & $FilePath @ArgumentList 2>&1 | ForEach-Object { Write-Host "    $_" }
        }
        $exitCode = $LASTEXITCODE
    }
    finally {
        if ($WorkingDirectory) {
            Pop-Location
        }
        foreach ($key in $saved.Keys) {
            [Environment]::SetEnvironmentVariable($key, $saved[$key], 'Process')
        }
    }

    if ($exitCode -ne 0) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $exitCode."
    }
    if ($CaptureOutput) {
        return $output
    }
}

function Invoke-CodebRobocopy {
    <#
    .SYNOPSIS
        Mirror one folder into another with robocopy /MIR.
    .DESCRIPTION
        Copies data, attributes and timestamps (not ACLs: the copies inherit the
        destination's permissions). Robocopy exit codes 0 to 7 mean success;
        8 and above throw.
    .PARAMETER Source
        The folder to copy.
    .PARAMETER Destination
        The folder to make identical to Source (created if missing).
    .PARAMETER ExcludeDirectory
        Folder names to skip (robocopy /XD).
    .PARAMETER ExcludeFile
        File names or wildcards to skip (robocopy /XF).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [string]$Source,

        [Parameter(Mandatory)]
        [string]$Destination,

        [string[]]$ExcludeDirectory = @(),

        [string[]]$ExcludeFile = @()
    )

    $arguments = @(
        (Format-CodebRobocopyPath $Source),
        (Format-CodebRobocopyPath $Destination),
        '/MIR', '/COPY:DAT', '/DCOPY:DAT', '/XJ', '/R:2', '/W:1', '/NP', '/NFL', '/NDL'
    )
    if ($ExcludeDirectory.Count -gt 0) {
        $arguments += '/XD'
        $arguments += $ExcludeDirectory
    }
    if ($ExcludeFile.Count -gt 0) {
        $arguments += '/XF'
        $arguments += $ExcludeFile
    }

    $ErrorActionPreference = 'Continue'
    Write-Verbose "robocopy $($arguments -join ' ')"
    $output = @(& robocopy.exe @arguments 2>&1 | ForEach-Object { "$_" })
    $exitCode = $LASTEXITCODE
    if ($exitCode -ge 8) {
        $output | ForEach-Object { Write-Host "    $_" }
        throw "robocopy from '$Source' to '$Destination' failed with exit code $exitCode."
    }
    Write-Verbose ($output -join [Environment]::NewLine)
    return $exitCode
}

function Format-CodebRobocopyPath {
    <#
    .SYNOPSIS
        A path as robocopy wants it: no trailing backslash (except a drive root).
    .PARAMETER Path
        A folder path.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [string]$Path
    )

    $full = [System.IO.Path]::GetFullPath($Path)
    if ($full.Length -gt 3) {
        $full = $full.TrimEnd('\')
    }
    return $full
}

function Get-CodebWellKnownSid {
    <#
    .SYNOPSIS
        The SID of a well-known account; SIDs, unlike names, are the same on
        every language of Windows.
    .PARAMETER Name
        System, Administrators, IisUsers (IIS_IUSRS) or CreatorOwner.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Principal.SecurityIdentifier])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [ValidateSet('System', 'Administrators', 'IisUsers', 'CreatorOwner')]
        [string]$Name
    )

    $value = switch ($Name) {
        'System' { 'S-1-5-18' }
        'Administrators' { 'S-1-5-32-544' }
        'IisUsers' { 'S-1-5-32-568' }
        'CreatorOwner' { 'S-1-3-0' }
    }
    return New-Object System.Security.Principal.SecurityIdentifier($value)
}

function Get-CodebPoolSid {
    <#
    .SYNOPSIS
        The SID of the virtual account IIS AppPool\<pool>.
    .DESCRIPTION
        Throws if the application pool does not exist (yet).
    .PARAMETER PoolName
        The application pool's name.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Principal.SecurityIdentifier])]
    param(
        [Parameter(Mandatory)]
        [string]$PoolName
    )

    $account = New-Object System.Security.Principal.NTAccount('IIS AppPool', $PoolName)
    try {
        return $account.Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        throw "The account 'IIS AppPool\$PoolName' is unknown: does the application pool '$PoolName' exist?"
    }
}

function New-CodebAccessRule {
    <#
    .SYNOPSIS
        An allow rule for a folder.
    .PARAMETER Identity
        Whom the rule is for (a SecurityIdentifier or NTAccount).
    .PARAMETER Rights
        The rights, such as ReadAndExecute or Modify.
    .PARAMETER Scope
        Tree: the folder, its subfolders and files. FolderOnly: the folder itself.
        ChildrenOnly: what is created inside it, not the folder itself.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.AccessControl.FileSystemAccessRule])]
    param(
        [Parameter(Mandatory)]
        [System.Security.Principal.IdentityReference]$Identity,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemRights]$Rights,

        [ValidateSet('Tree', 'FolderOnly', 'ChildrenOnly')]
        [string]$Scope = 'Tree'
    )

    $inheritance = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    $propagation = [System.Security.AccessControl.PropagationFlags]::None
    switch ($Scope) {
        'FolderOnly' { $inheritance = [System.Security.AccessControl.InheritanceFlags]::None }
        'ChildrenOnly' { $propagation = [System.Security.AccessControl.PropagationFlags]::InheritOnly }
    }
    return New-Object System.Security.AccessControl.FileSystemAccessRule(
        $Identity, $Rights, $inheritance, $propagation, [System.Security.AccessControl.AccessControlType]::Allow)
}

function Set-CodebFolderAcl {
    <#
    .SYNOPSIS
        Replace a folder's permissions with exactly the given rules.
    .DESCRIPTION
        Inheritance from the parent is cut; the rules propagate to everything
        below that inherits. Owner and audit settings are left alone.
    .PARAMETER Path
        The folder.
    .PARAMETER Rule
        The rules it keeps (see New-CodebAccessRule).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemAccessRule[]]$Rule
    )

    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($entry in $Rule) {
        $acl.AddAccessRule($entry)
    }
    (Get-Item -LiteralPath $Path -Force).SetAccessControl($acl)
}

function Add-CodebFolderAccess {
    <#
    .SYNOPSIS
        Add one rule to a folder's permissions, keeping the others.
    .PARAMETER Path
        The folder.
    .PARAMETER Rule
        The rule to add (see New-CodebAccessRule).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemAccessRule]$Rule
    )

    $folder = Get-Item -LiteralPath $Path -Force
    $acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl.AddAccessRule($Rule)
    $folder.SetAccessControl($acl)
}

function Remove-CodebFolderAccess {
    <#
    .SYNOPSIS
        Remove every explicit rule of one identity from a folder.
    .PARAMETER Path
        The folder.
    .PARAMETER Identity
        Whose rules to remove.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.Principal.IdentityReference]$Identity
    )

    $folder = Get-Item -LiteralPath $Path -Force
    $acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl.PurgeAccessRules($Identity)
    $folder.SetAccessControl($acl)
}

function Set-CodebSiteAcl {
    <#
    .SYNOPSIS
        Lock a tenant's site folder to its own application pool.
    .DESCRIPTION
        The site folder (web.config, links to the code, App_Data) is readable by
        SYSTEM, Administrators and the tenant's pool identity only; no other
        site's pool can read it. Only the tenant's pool may change
        App_Data\<tenant>. The shared release behind the links is readable by
        IIS_IUSRS (see Initialize-CodebHost.ps1).
    .PARAMETER Paths
        The tenant's paths from Get-CodebTenantPath.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool> (see Get-CodebPoolSid).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Paths,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    Set-CodebFolderAcl -Path $Paths.SiteFolder -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl),
        (New-CodebAccessRule -Identity $PoolSid -Rights ReadAndExecute)
    )
    Set-CodebTenantDataAcl -Paths $Paths -PoolSid $PoolSid
}

function Set-CodebTenantDataAcl {
    <#
    .SYNOPSIS
        Let the tenant's pool modify App_Data\<tenant> (and nothing else).
    .PARAMETER Paths
        The tenant's paths from Get-CodebTenantPath.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Paths,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    Add-CodebFolderAccess -Path $Paths.TenantData -Rule (New-CodebAccessRule -Identity $PoolSid -Rights Modify)
}

function Grant-CodebMailAccess {
    <#
    .SYNOPSIS
        Let a tenant's pool drop mail into the SMTP pickup folder.
    .DESCRIPTION
        The pool may create files in the staging folder and in Pickup, and list
        them; it cannot read another pool's message, since a staged file is
        readable only by its creator (CREATOR OWNER), SYSTEM and Administrators.
        A rename within the volume keeps those permissions.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    $rights = [System.Security.AccessControl.FileSystemRights]'ReadAndExecute, CreateFiles'
    foreach ($folder in @($Layout.Staging, $Layout.Pickup)) {
        if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
            throw "'$folder' is missing: prepare the host with Initialize-CodebHost.ps1 first."
        }
        Add-CodebFolderAccess -Path $folder -Rule (New-CodebAccessRule -Identity $PoolSid -Rights $rights -Scope FolderOnly)
    }
}

function Revoke-CodebMailAccess {
    <#
    .SYNOPSIS
        Take back what Grant-CodebMailAccess gave a pool.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    foreach ($folder in @($Layout.Staging, $Layout.Pickup)) {
        if (Test-Path -LiteralPath $folder -PathType Container) {
            Remove-CodebFolderAccess -Path $folder -Identity $PoolSid
        }
    }
}

function Remove-CodebTree {
    <#
    .SYNOPSIS
        Delete a file or folder tree without ever following a link.
    .DESCRIPTION
        A junction or symbolic link is removed as a link; what it points to (the
        shared release) is never entered. Windows PowerShell's
        Remove-Item -Recurse cannot promise that.
    .PARAMETER Path
        What to delete; nothing happens if it does not exist.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($null -eq $item) {
        return
    }
    $isLink = [bool]($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint)
    if ($item.PSIsContainer) {
        if (-not $isLink) {
            foreach ($child in @(Get-ChildItem -LiteralPath $item.FullName -Force)) {
                Remove-CodebTree -Path $child.FullName
            }
        }
        [System.IO.Directory]::Delete($item.FullName, $false)
    }
    else {
        if ($item.Attributes -band [System.IO.FileAttributes]::ReadOnly) {
            $item.Attributes = $item.Attributes -bxor [System.IO.FileAttributes]::ReadOnly
        }
        [System.IO.File]::Delete($item.FullName)
    }
}

function Install-CodebSiteCode {
    <#
    .SYNOPSIS
        Link a site folder to the shared release.
    .DESCRIPTION
        codeb\, templates\ and static\ become junctions and app.py a symbolic
        link to <root>\app, so every site runs the release that
        Initialize-CodebHost.ps1 installed last. Existing links are replaced.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER SiteFolder
        The tenant's site folder.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [string]$SiteFolder
    )

    foreach ($name in $script:CodeFolders) {
        $target = Join-Path $Layout.App $name
        if (-not (Test-Path -LiteralPath $target -PathType Container)) {
            throw "The release at '$($Layout.App)' has no '$name' folder: run Initialize-CodebHost.ps1 first."
        }
        $link = Join-Path $SiteFolder $name
        Remove-CodebTree -Path $link
        $null = New-Item -ItemType Junction -Path $link -Value $target
    }
    foreach ($name in $script:CodeFiles) {
        $target = Join-Path $Layout.App $name
        if (-not (Test-Path -LiteralPath $target -PathType Leaf)) {
            throw "The release at '$($Layout.App)' has no '$name': run Initialize-CodebHost.ps1 first."
        }
        $link = Join-Path $SiteFolder $name
        Remove-CodebTree -Path $link
        $null = New-Item -ItemType SymbolicLink -Path $link -Value $target
    }
}

function Remove-CodebSiteCode {
    <#
    .SYNOPSIS
        Remove a site folder's links to the release and its web.config; keep App_Data.
    .PARAMETER SiteFolder
        The tenant's site folder.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$SiteFolder
    )

    foreach ($name in @($script:CodeFolders + $script:CodeFiles + 'web.config')) {
        Remove-CodebTree -Path (Join-Path $SiteFolder $name)
    }
}

function Write-CodebWebConfig {
    <#
    .SYNOPSIS
        Write a site's web.config from the release's template.
    .DESCRIPTION
        Sets the given appSettings (each must exist in the template) and the
        FastCGI handler's scriptProcessor; everything else stays as in the
        template.
    .PARAMETER TemplatePath
        The release's web.config.
    .PARAMETER Destination
        The site's web.config.
    .PARAMETER AppSetting
        appSettings keys and their values, such as CODEB_TENANT.
    .PARAMETER ScriptProcessor
        python.exe|wfastcgi.py of the host's venv, as registered with FastCGI.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$TemplatePath,

        [Parameter(Mandatory)]
        [string]$Destination,

        [Parameter(Mandatory)]
        [hashtable]$AppSetting,

        [Parameter(Mandatory)]
        [string]$ScriptProcessor
    )

    $document = New-Object System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    $document.Load($TemplatePath)

    foreach ($key in $AppSetting.Keys) {
        $node = $document.SelectSingleNode("/configuration/appSettings/add[@key='$key']")
        if ($null -eq $node) {
            throw "The template '$TemplatePath' has no appSetting '$key'."
        }
        $node.SetAttribute('value', [string]$AppSetting[$key])
    }

    $handler = $document.SelectSingleNode("/configuration/system.webServer/handlers/add[@name='$script:HandlerName']")
    if ($null -eq $handler) {
        throw "The template '$TemplatePath' has no handler named '$script:HandlerName'."
    }
    $handler.SetAttribute('scriptProcessor', $ScriptProcessor)

    # Write beside the target, then move over it: IIS never reads half a file.
    $temporary = "$Destination.new"
    $document.Save($temporary)
    Move-Item -LiteralPath $temporary -Destination $Destination -Force
}

function Invoke-CodebIisChange {
    <#
    .SYNOPSIS
        Make IIS configuration changes that are committed together or not at all.
    .DESCRIPTION
        Runs Change with a fresh ServerManager inside Start-IISCommitDelay and
        commits when it returns; if it throws, nothing is committed.
    .PARAMETER Change
        A script block; its first parameter is the ServerManager, the others
        come from ArgumentList.
    .PARAMETER ArgumentList
        Further arguments for Change.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [scriptblock]$Change,

        [object[]]$ArgumentList = @()
    )

    Reset-IISServerManager -Confirm:$false
    Start-IISCommitDelay
    $commit = $false
    try {
        $null = & $Change (Get-IISServerManager) @ArgumentList
        $commit = $true
    }
    finally {
        Stop-IISCommitDelay -Commit $commit
        Reset-IISServerManager -Confirm:$false
    }
}

function Test-CodebSite {
    <#
    .SYNOPSIS
        Whether an IIS site of this name exists.
    .PARAMETER Name
        The site name.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Reset-IISServerManager -Confirm:$false
    return $null -ne (Get-IISServerManager).Sites[$Name]
}

function Test-CodebAppPool {
    <#
    .SYNOPSIS
        Whether an IIS application pool of this name exists.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Reset-IISServerManager -Confirm:$false
    return $null -ne (Get-IISServerManager).ApplicationPools[$Name]
}

function New-CodebAppPool {
    <#
    .SYNOPSIS
        Create a tenant's application pool.
    .DESCRIPTION
        No managed (.NET) runtime, integrated pipeline, its own virtual account
        (ApplicationPoolIdentity) with a user profile for TEMP. Recycling is
        allowed and may overlap: the app keeps no state in process memory.
    .PARAMETER Name
        The pool name (the tenant name).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$poolName)

        $pool = $manager.ApplicationPools.Add($poolName)
        $pool.ManagedRuntimeVersion = ''
        $pool.ManagedPipelineMode = 'Integrated'
        $pool.Enable32BitAppOnWin64 = $false
        $pool.AutoStart = $true
        $pool.StartMode = 'OnDemand'
        $pool.ProcessModel.IdentityType = 'ApplicationPoolIdentity'
        $pool.ProcessModel.LoadUserProfile = $true
        $pool.Recycling.DisallowOverlappingRotation = $false
        $pool.Recycling.DisallowRotationOnConfigChange = $false
    }
}

function Remove-CodebAppPool {
    <#
    .SYNOPSIS
        Delete an application pool if it exists.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$poolName)

        $pool = $manager.ApplicationPools[$poolName]
        if ($null -ne $pool) {
            $manager.ApplicationPools.Remove($pool)
        }
    }
}

function New-CodebSite {
    <#
    .SYNOPSIS
        Create a tenant's IIS site with one HTTPS binding (SNI) per host name.
    .DESCRIPTION
        The certificate is bound in HTTP.sys for each host:443. Anonymous
        requests (static files included) run as the pool identity, so the site
        folder needs no access for IUSR.
    .PARAMETER Name
        The site name (the tenant name).
    .PARAMETER PoolName
        The application pool that runs the site.
    .PARAMETER PhysicalPath
        The site folder.
    .PARAMETER HostName
        The host names, normalized (see ConvertTo-CodebHostName).
    .PARAMETER Thumbprint
        The certificate in Cert:\LocalMachine\My.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [string]$PhysicalPath,

        [Parameter(Mandatory)]
        [string[]]$HostName,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    Invoke-CodebIisChange -ArgumentList @($Name, $PoolName, $PhysicalPath, $HostName, $Thumbprint) -Change {
        param($manager, [string]$siteName, [string]$poolName, [string]$physicalPath, [string[]]$hostNames, [string]$thumbprint)

        $binding = @{
            Protocol              = 'https'
            CertificateThumbPrint = $thumbprint
            CertStoreLocation     = $script:CertificateStore
            SslFlag               = 'Sni'
        }
        $site = New-IISSite -Name $siteName -PhysicalPath $physicalPath -BindingInformation "*:443:$($hostNames[0])" @binding -Passthru
        foreach ($extraHost in @($hostNames | Select-Object -Skip 1)) {
            New-IISSiteBinding -Name $siteName -BindingInformation "*:443:$extraHost" @binding
        }
        $site.Applications['/'].ApplicationPoolName = $poolName
        $site.ServerAutoStart = $true

        $anonymous = $manager.GetApplicationHostConfiguration().GetSection(
            'system.webServer/security/authentication/anonymousAuthentication', $siteName)
        $anonymous['enabled'] = $true
        $anonymous['userName'] = ''
    }
}

function Remove-CodebSite {
    <#
    .SYNOPSIS
        Delete a site, its HTTPS bindings (in HTTP.sys too) and its
        applicationHost.config location settings.
    .PARAMETER Name
        The site name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    if (-not (Test-CodebSite -Name $Name)) {
        return
    }
    $bindings = @(
        (Get-IISSite -Name $Name).Bindings |
            Where-Object { $_.Protocol -eq 'https' } |
            ForEach-Object { $_.BindingInformation }
    )
    foreach ($bindingInformation in $bindings) {
        Reset-IISServerManager -Confirm:$false
        Remove-IISSiteBinding -Name $Name -BindingInformation $bindingInformation -Protocol https -Confirm:$false
    }
    Reset-IISServerManager -Confirm:$false
    Remove-IISSite -Name $Name -Confirm:$false

    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$siteName)

        $config = $manager.GetApplicationHostConfiguration()
        if (@($config.GetLocationPaths()) -contains $siteName) {
            $config.RemoveLocationPath($siteName)
        }
    }
}

function Get-CodebSiteHostName {
    <#
    .SYNOPSIS
        The host names a site is bound to.
    .PARAMETER Name
        The site name.
    #>
    [CmdletBinding()]
    [OutputType([string[]])]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    if (-not (Test-CodebSite -Name $Name)) {
        return @()
    }
    return @(
        (Get-IISSite -Name $Name).Bindings |
            Where-Object { $_.Protocol -in @('http', 'https') -and $_.Host } |
            ForEach-Object { $_.Host } |
            Sort-Object -Unique
    )
}

function Find-CodebBindingConflict {
    <#
    .SYNOPSIS
        Bindings of other sites that already use one of these host names.
    .PARAMETER HostName
        The host names a new site wants.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    Reset-IISServerManager -Confirm:$false
    foreach ($site in (Get-IISServerManager).Sites) {
        foreach ($binding in $site.Bindings) {
            if ($binding.Protocol -notin @('http', 'https')) {
                continue
            }
            if ($binding.Host -and ($HostName -contains $binding.Host)) {
                [pscustomobject]@{
                    Site               = $site.Name
                    HostName           = $binding.Host
                    Protocol           = $binding.Protocol
                    BindingInformation = $binding.BindingInformation
                }
            }
        }
    }
}

function Stop-CodebAppPool {
    <#
    .SYNOPSIS
        Stop an application pool and wait until its worker processes are gone.
    .PARAMETER Name
        The pool name.
    .PARAMETER TimeoutSeconds
        How long to wait.
    .OUTPUTS
        System.Boolean: whether the pool was running (and should be started again).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [ValidateRange(1, 3600)]
        [int]$TimeoutSeconds = 120
    )

    Reset-IISServerManager -Confirm:$false
    $pool = (Get-IISServerManager).ApplicationPools[$Name]
    if ($null -eq $pool) {
        throw "There is no application pool '$Name'."
    }
    $wasRunning = "$($pool.State)" -in @('Started', 'Starting')
    if ($wasRunning) {
        $null = $pool.Stop()
    }

    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    while ($true) {
        Reset-IISServerManager -Confirm:$false
        $pool = (Get-IISServerManager).ApplicationPools[$Name]
        if ("$($pool.State)" -eq 'Stopped' -and @($pool.WorkerProcesses).Count -eq 0) {
            break
        }
        if ((Get-Date) -gt $deadline) {
            throw "The application pool '$Name' did not stop within $TimeoutSeconds seconds."
        }
        Start-Sleep -Milliseconds 500
    }
    return $wasRunning
}

function Start-CodebAppPool {
    <#
    .SYNOPSIS
        Start an application pool.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Reset-IISServerManager -Confirm:$false
    $pool = (Get-IISServerManager).ApplicationPools[$Name]
    if ($null -eq $pool) {
        throw "There is no application pool '$Name'."
    }
    if ("$($pool.State)" -ne 'Started') {
        $null = $pool.Start()
    }
}

function Move-CodebFolder {
    <#
    .SYNOPSIS
        Rename a folder on the same volume, retrying while a handle keeps it busy.
    .DESCRIPTION
        A virus scanner or a process that is just exiting can hold a file open
        for a moment after its application pool stopped.
    .PARAMETER Path
        The folder to move.
    .PARAMETER Destination
        Its new path (must not exist).
    .PARAMETER Attempts
        How often to try, one second apart.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [string]$Destination,

        [ValidateRange(1, 600)]
        [int]$Attempts = 30
    )

    for ($attempt = 1; $attempt -le $Attempts; $attempt++) {
        try {
            [System.IO.Directory]::Move($Path, $Destination)
            return
        }
        catch [System.IO.IOException] {
            if ($attempt -eq $Attempts) {
                throw "Could not move '$Path' to '$Destination': $($_.Exception.Message)"
            }
            Write-Verbose "'$Path' is busy ($($_.Exception.Message)); trying again."
            Start-Sleep -Seconds 1
        }
    }
}

function Get-CodebCertificateProblem {
    <#
    .SYNOPSIS
        Why a certificate cannot serve these host names; nothing if it can.
    .PARAMETER Certificate
        The certificate.
    .PARAMETER HostName
        The host names it must name (exactly, or through a one-label wildcard).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    if (-not $Certificate.HasPrivateKey) {
        'it has no private key'
    }
    $now = Get-Date
    if ($Certificate.NotBefore -gt $now -or $Certificate.NotAfter -le $now) {
        "it is valid from $($Certificate.NotBefore) to $($Certificate.NotAfter) only"
    }
    $names = @($Certificate.DnsNameList | ForEach-Object { "$($_.Unicode)".ToLowerInvariant() })
    foreach ($name in $HostName) {
        $parent = $name.Substring($name.IndexOf('.'))
        if (-not ($names -contains $name -or $names -contains "*$parent")) {
            "it does not name $name"
        }
    }
}

function Find-CodebCertificate {
    <#
    .SYNOPSIS
        The longest-valid certificate in Cert:\LocalMachine\My that serves every
        given host name, such as one an ACME client installed.
    .PARAMETER HostName
        The host names.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    Get-ChildItem -Path $script:CertificateStore |
        Where-Object { @(Get-CodebCertificateProblem -Certificate $_ -HostName $HostName).Count -eq 0 } |
        Sort-Object -Property NotAfter -Descending |
        Select-Object -First 1
}

function Get-CodebCertificate {
    <#
    .SYNOPSIS
        A certificate from Cert:\LocalMachine\My by thumbprint, checked for these host names.
    .PARAMETER Thumbprint
        The certificate's SHA-1 thumbprint.
    .PARAMETER HostName
        The host names it must serve.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    $certificate = Get-Item -LiteralPath (Join-Path $script:CertificateStore $Thumbprint.ToUpperInvariant()) -ErrorAction SilentlyContinue
    if ($null -eq $certificate) {
        throw "There is no certificate $Thumbprint in $script:CertificateStore."
    }
    $problems = @(Get-CodebCertificateProblem -Certificate $certificate -HostName $HostName)
    if ($problems.Count -gt 0) {
        throw "The certificate $Thumbprint cannot be used: $($problems -join '; ')."
    }
    return $certificate
}

function New-CodebSelfSignedCertificate {
    <#
    .SYNOPSIS
        A self-signed certificate for test tenants, in Cert:\LocalMachine\My.
    .DESCRIPTION
        Browsers do not trust it; passkeys and every sign-in need a trusted
        certificate in production.
    .PARAMETER Tenant
        The tenant name (goes into the friendly name).
    .PARAMETER HostName
        The host names it names.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    $parameters = @{
        DnsName           = $HostName
        CertStoreLocation = $script:CertificateStore
        FriendlyName      = Get-CodebSelfSignedName -Tenant $Tenant
        NotAfter          = (Get-Date).AddYears(1)
        KeyAlgorithm      = 'RSA'
        KeyLength         = 2048
        HashAlgorithm     = 'SHA256'
        KeyExportPolicy   = 'NonExportable'
    }
    return New-SelfSignedCertificate @parameters
}

function Get-CodebSelfSignedName {
    <#
    .SYNOPSIS
        The friendly name of a tenant's self-signed certificate.
    .PARAMETER Tenant
        The tenant name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant
    )

    return "CodeB $Tenant (self-signed)"
}

function Get-CodebPython {
    <#
    .SYNOPSIS
        The path of a Python 3.11 interpreter.
    .DESCRIPTION
        Tries the given path, else the py launcher (py -3.11), else the default
        all-users install folders. Throws if none is Python 3.11.
    .PARAMETER Path
        A python.exe to use.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string]$Path
    )

    $candidates = New-Object System.Collections.Generic.List[string]
    if ($Path) {
        $candidates.Add($Path)
    }
    else {
        $launcher = Get-Command -Name 'py.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($null -ne $launcher) {
            try {
                $found = Invoke-CodebNative -FilePath $launcher.Source -ArgumentList @('-3.11', '-c', 'import sys; print(sys.executable)') -CaptureOutput
                $candidates.Add(($found | Select-Object -Last 1).Trim())
            }
            catch {
                Write-Verbose "The py launcher knows no Python 3.11: $($_.Exception.Message)"
            }
        }
        $candidates.Add((Join-Path $env:ProgramFiles 'Python311\python.exe'))
        $candidates.Add((Join-Path $env:SystemDrive 'Python311\python.exe'))
    }

    foreach ($candidate in $candidates) {
        if (-not (Test-Path -LiteralPath $candidate -PathType Leaf)) {
            continue
        }
        $version = Get-CodebPythonVersion -Path $candidate
        if ($version -eq '3.11') {
            return $candidate
        }
        Write-Verbose "$candidate is Python $version, not 3.11."
    }
    throw "Python 3.11 was not found (looked at: $($candidates -join ', ')). Install Python 3.11 for all users, or pass -PythonPath."
}

function Get-CodebPythonVersion {
    <#
    .SYNOPSIS
        The major.minor version of a Python interpreter, such as 3.11.
    .PARAMETER Path
        The python.exe.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $output = Invoke-CodebNative -FilePath $Path -ArgumentList @('-c', 'import sys; print("%d.%d" % sys.version_info[:2])') -CaptureOutput
    return ($output | Select-Object -Last 1).Trim()
}

function Test-CodebFastCgiApplication {
    <#
    .SYNOPSIS
        Whether IIS has a FastCGI application for the host venv's python.exe and wfastcgi.py.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    Reset-IISServerManager -Confirm:$false
    $section = (Get-IISServerManager).GetApplicationHostConfiguration().GetSection('system.webServer/fastCgi')
    foreach ($application in $section.GetCollection()) {
        if ("$($application['fullPath'])" -eq $Layout.Python -and "$($application['arguments'])" -eq $Layout.WfastcgiScript) {
            return $true
        }
    }
    return $false
}

function Get-CodebSiteFolder {
    <#
    .SYNOPSIS
        The tenant site folders under <root>\sites (those with a web.config).
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    [OutputType([System.IO.DirectoryInfo])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    if (-not (Test-Path -LiteralPath $Layout.Sites -PathType Container)) {
        return
    }
    Get-ChildItem -LiteralPath $Layout.Sites -Directory |
        Where-Object { $_.Name -cmatch $script:TenantNamePattern -and (Test-Path -LiteralPath (Join-Path $_.FullName 'web.config')) }
}

Export-ModuleMember -Function @(
    'Add-CodebFolderAccess',
    'Assert-CodebAdministrator',
    'Assert-CodebHostPrepared',
    'Assert-CodebTenantName',
    'ConvertTo-CodebHostName',
    'Find-CodebBindingConflict',
    'Find-CodebCertificate',
    'Get-CodebCertificate',
    'Get-CodebCertificateProblem',
    'Get-CodebLayout',
    'Get-CodebPoolSid',
    'Get-CodebPython',
    'Get-CodebPythonVersion',
    'Get-CodebSelfSignedName',
    'Get-CodebSiteFolder',
    'Get-CodebSiteHostName',
    'Get-CodebTenantPath',
    'Get-CodebWellKnownSid',
    'Grant-CodebMailAccess',
    'Install-CodebSiteCode',
    'Invoke-CodebIisChange',
    'Invoke-CodebNative',
    'Invoke-CodebRobocopy',
    'Move-CodebFolder',
    'New-CodebAccessRule',
    'New-CodebAppPool',
    'New-CodebSelfSignedCertificate',
    'New-CodebSite',
    'Remove-CodebAppPool',
    'Remove-CodebFolderAccess',
    'Remove-CodebSite',
    'Remove-CodebSiteCode',
    'Remove-CodebTree',
    'Revoke-CodebMailAccess',
    'Set-CodebFolderAcl',
    'Set-CodebSiteAcl',
    'Set-CodebTenantDataAcl',
    'Start-CodebAppPool',
    'Stop-CodebAppPool',
    'Test-CodebAppPool',
    'Test-CodebFastCgiApplication',
    'Test-CodebSite',
    'Write-CodebWebConfig'
)
