# Names and paths: what a tenant name and a host name may be, the folders of a
# CodeB host and of one tenant's site, and whether this session and this host
# are ready for the scripts (elevated, prepared by Initialize-CodebHost.ps1).


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
    $data = Join-Path $fullRoot 'App_Data'
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
        Data            = $data
        Requests        = Join-Path $data '_host\provisioning\requests'
        HostSettings    = Join-Path $fullRoot 'host.json'
        Secrets         = Join-Path $fullRoot 'secrets'
        Turn            = Join-Path $fullRoot 'turn'
        Pickup          = Join-Path $script:MailRoot 'Pickup'
        Staging         = Join-Path $script:MailRoot 'CodeB-Staging'
    }
}

function Get-CodebPoolName {
    <#
    .SYNOPSIS
        The name of a tenant's application pool and IIS site: codeb-<tenant>.
    .DESCRIPTION
        The same rule as codeb/provisioning/plan.py (POOL_PREFIX, pool_name), so
        what python -m codeb provision plan names is what the scripts make. The
        prefix keeps tenant pools apart from every other pool on the server
        (DefaultAppPool); the one name of the prefix a tenant cannot have is
        the host's own site's, codeb-host (Get-CodebHostSitePath), so the tenant
        name host is refused. IIS takes pool names of at most 64 characters.
    .PARAMETER Tenant
        The tenant name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant
    )

    Assert-CodebTenantName -Name $Tenant
    $pool = $script:PoolPrefix + $Tenant
    if ($pool.Length -gt $script:MaxPoolName) {
        throw "The tenant name '$Tenant' is too long: its application pool '$pool' would exceed $($script:MaxPoolName) characters."
    }
    if ($pool -ceq $script:HostSiteName) {
        # Else a tenant's site, pool and ACLs would be the sign-up page's (and its removal remove that).
        throw "The tenant name '$Tenant' cannot be used: '$pool' is the pool and site of the host's own sign-up site."
    }
    return $pool
}

function Get-CodebTenantPath {
    <#
    .SYNOPSIS
        The names and paths of one tenant's site.
    .DESCRIPTION
        The site and its application pool are both named codeb-<tenant>
        (Get-CodebPoolName). The data root is the site folder's App_Data for a
        tenant made by New-CodebTenant.ps1, or with -HostData the host's data
        root <root>\App_Data, where the provisioning worker makes the tenants
        of the sign-up page (its spool and host index live there too).
    .PARAMETER Name
        The tenant name.
    .PARAMETER Root
        The installation root, such as C:\CodeB.
    .PARAMETER HostData
        The tenant's data is in the host's data root, not in its site folder.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$Root,

        [switch]$HostData
    )

    Assert-CodebTenantName -Name $Name
    $layout = Get-CodebLayout -Root $Root
    $siteFolder = Join-Path $layout.Sites $Name
    $dataRoot = Join-Path $siteFolder 'App_Data'
    if ($HostData) {
        $dataRoot = $layout.Data
    }
    $pool = Get-CodebPoolName -Tenant $Name

    [pscustomobject]@{
        Name       = $Name
        Layout     = $layout
        SiteName   = $pool
        PoolName   = $pool
        SiteFolder = $siteFolder
        WebConfig  = Join-Path $siteFolder 'web.config'
        DataRoot   = $dataRoot
        TenantData = Join-Path $dataRoot $Name
        TenantFile = Join-Path (Join-Path $dataRoot $Name) 'tenant.json'
    }
}

function Resolve-CodebTenantPath {
    <#
    .SYNOPSIS
        The paths of an existing tenant, wherever its data is: its site folder's
        App_Data (New-CodebTenant.ps1) or the host's data root (the provisioning worker).
    .DESCRIPTION
        The site folder's data wins if both exist; if neither does, the site
        folder's paths are returned.
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

    $site = Get-CodebTenantPath -Name $Name -Root $Root
    if (Test-Path -LiteralPath $site.TenantFile -PathType Leaf) {
        return $site
    }
    $hosted = Get-CodebTenantPath -Name $Name -Root $Root -HostData
    if (Test-Path -LiteralPath $hosted.TenantFile -PathType Leaf) {
        return $hosted
    }
    return $site
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

function Get-CodebHostSetting {
    <#
    .SYNOPSIS
        The host's settings that Initialize-CodebHost.ps1 saved in <root>\host.json.
    .DESCRIPTION
        Acme (wacs.exe, the account e-mail address, the ACME directory), Smtp
        (the smarthost) and Turn (where coturn reads its configuration, and its
        service). A missing file or part is an empty one.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    $settings = @{ Acme = @{}; Smtp = @{}; Turn = @{} }
    if (-not (Test-Path -LiteralPath $Layout.HostSettings -PathType Leaf)) {
        return $settings
    }
    $saved = Get-Content -LiteralPath $Layout.HostSettings -Raw -Encoding UTF8 | ConvertFrom-Json
    foreach ($part in @('Acme', 'Smtp', 'Turn')) {
        $value = $saved.PSObject.Properties[$part]
        if ($null -ne $value -and $null -ne $value.Value) {
            foreach ($entry in $value.Value.PSObject.Properties) {
                $settings[$part][$entry.Name] = $entry.Value
            }
        }
    }
    return $settings
}

function Set-CodebHostSetting {
    <#
    .SYNOPSIS
        Save the host's settings in <root>\host.json, unless they are so already.
    .DESCRIPTION
        Get, compare, set: the file is written only when its content changes.
        It names files and services, never a secret (the SMTP password stays in
        its own file).
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER Setting
        The settings, as Get-CodebHostSetting returns them.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [hashtable]$Setting
    )

    $ordered = [ordered]@{}
    foreach ($part in @('Acme', 'Smtp', 'Turn')) {
        $values = [ordered]@{}
        foreach ($key in @($Setting[$part].Keys | Sort-Object)) {
            $values[$key] = $Setting[$part][$key]
        }
        $ordered[$part] = $values
    }
    $content = ($ordered | ConvertTo-Json -Depth 4) + "`r`n"
    return (Write-CodebTextFile -Path $Layout.HostSettings -Content $content)
}

function Write-CodebTextFile {
    <#
    .SYNOPSIS
        Write a UTF-8 text file (no BOM) unless it holds that text already; whether it was written.
    .DESCRIPTION
        The text is written beside the file and moved over it, so a reader never
        sees half of it.
    .PARAMETER Path
        The file.
    .PARAMETER Content
        Its whole text.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$Content
    )

    $encoding = New-Object System.Text.UTF8Encoding($false)
    if (Test-Path -LiteralPath $Path -PathType Leaf) {
        if ([System.IO.File]::ReadAllText($Path, $encoding) -ceq $Content) {
            Write-Verbose "'$Path' is up to date."
            return $false
        }
    }
    $temporary = "$Path.new"
    [System.IO.File]::WriteAllText($temporary, $Content, $encoding)
    Move-Item -LiteralPath $temporary -Destination $Path -Force
    return $true
}
