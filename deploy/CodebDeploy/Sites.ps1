# IIS sites: a site folder's links to the release and its web.config (wfastcgi
# or HttpPlatformHandler), IIS configuration changes committed as one, and a
# tenant's site with its HTTPS bindings.


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
        Write a site's web.config from one of the release's templates, unless it is so already.
    .DESCRIPTION
        With -ScriptProcessor the template is the wfastcgi site (the release's
        web.config): the settings are its appSettings, which wfastcgi copies
        into the Python process environment, and the FastCGI handler gets the
        venv's python.exe|wfastcgi.py. With -ProcessPath the template is the
        HttpPlatformHandler site (deploy\web.httpplatform.config): the settings
        are the environment variables of the process HttpPlatformHandler starts,
        and that process is the venv's python.exe. Each setting must exist in
        the template; everything else stays as in the template.

        Get, compare, set: the file is written only if it would change, so a
        rerun leaves it alone and IIS does not restart the site for nothing.
    .PARAMETER TemplatePath
        The release's web.config, or its deploy\web.httpplatform.config.
    .PARAMETER Destination
        The site's web.config.
    .PARAMETER AppSetting
        The site's settings and their values, such as CODEB_TENANT.
    .PARAMETER ScriptProcessor
        python.exe|wfastcgi.py of the host's venv, as registered with FastCGI.
    .PARAMETER ProcessPath
        The host venv's python.exe, for HttpPlatformHandler to start.
    #>
    [CmdletBinding(DefaultParameterSetName = 'WfastCgi')]
    param(
        [Parameter(Mandatory)]
        [string]$TemplatePath,

        [Parameter(Mandatory)]
        [string]$Destination,

        [Parameter(Mandatory)]
        [hashtable]$AppSetting,

        [Parameter(Mandatory, ParameterSetName = 'WfastCgi')]
        [string]$ScriptProcessor,

        [Parameter(Mandatory, ParameterSetName = 'HttpPlatform')]
        [string]$ProcessPath
    )

    $document = New-Object System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    $document.Load($TemplatePath)

    if ($PSCmdlet.ParameterSetName -eq 'HttpPlatform') {
        $settingPath = "/configuration/system.webServer/httpPlatform/environmentVariables/environmentVariable[@name='{0}']"
        $platform = $document.SelectSingleNode('/configuration/system.webServer/httpPlatform')
        if ($null -eq $platform) {
            throw "The template '$TemplatePath' has no httpPlatform section."
        }
        $platform.SetAttribute('processPath', $ProcessPath)
    }
    else {
        $settingPath = "/configuration/appSettings/add[@key='{0}']"
        $handler = $document.SelectSingleNode("/configuration/system.webServer/handlers/add[@name='$script:HandlerName']")
        if ($null -eq $handler) {
            throw "The template '$TemplatePath' has no handler named '$script:HandlerName'."
        }
        $handler.SetAttribute('scriptProcessor', $ScriptProcessor)
    }

    foreach ($key in $AppSetting.Keys) {
        $node = $document.SelectSingleNode($settingPath -f $key)
        if ($null -eq $node) {
            throw "The template '$TemplatePath' has no setting '$key'."
        }
        $node.SetAttribute('value', [string]$AppSetting[$key])
    }

    $buffer = New-Object System.IO.MemoryStream
    $document.Save($buffer)
    $content = $buffer.ToArray()
    if (Test-Path -LiteralPath $Destination -PathType Leaf) {
        $current = [System.IO.File]::ReadAllBytes($Destination)
        if ([Convert]::ToBase64String($current) -ceq [Convert]::ToBase64String($content)) {
            Write-Verbose "'$Destination' is up to date."
            return
        }
    }

    # Write beside the target, then move over it: IIS never reads half a file.
    $temporary = "$Destination.new"
    [System.IO.File]::WriteAllBytes($temporary, $content)
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

function Test-CodebHttpPlatformHandler {
    <#
    .SYNOPSIS
        Whether IIS has the HttpPlatformHandler module, which the HttpPlatform sites need.
    .DESCRIPTION
        HttpPlatformHandler is no Windows feature: its installer (from Microsoft)
        registers the global module httpPlatformHandler, the name the handler in
        deploy\web.httpplatform.config names.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()

    Reset-IISServerManager -Confirm:$false
    $modules = (Get-IISServerManager).GetApplicationHostConfiguration().GetSection('system.webServer/globalModules').GetCollection()
    foreach ($module in $modules) {
        if ($module['name'] -eq 'httpPlatformHandler') {
            return $true
        }
    }
    return $false
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
