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
