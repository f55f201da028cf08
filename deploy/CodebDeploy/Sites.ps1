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
        Initialize-CodebHost.ps1 installed last. A link that already points at
        its target stays (get, compare, set); anything else in its place is replaced.
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
        if (Test-CodebLink -Path $link -Target $target) {
            continue
        }
        Remove-CodebTree -Path $link
        $null = New-Item -ItemType Junction -Path $link -Value $target
    }
    foreach ($name in $script:CodeFiles) {
        $target = Join-Path $Layout.App $name
        if (-not (Test-Path -LiteralPath $target -PathType Leaf)) {
            throw "The release at '$($Layout.App)' has no '$name': run Initialize-CodebHost.ps1 first."
        }
        $link = Join-Path $SiteFolder $name
        if (Test-CodebLink -Path $link -Target $target) {
            continue
        }
        Remove-CodebTree -Path $link
        $null = New-Item -ItemType SymbolicLink -Path $link -Value $target
    }
}

function Test-CodebLink {
    <#
    .SYNOPSIS
        Whether Path is a junction or symbolic link to Target.
    .PARAMETER Path
        The link.
    .PARAMETER Target
        Where it must point.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [string]$Target
    )

    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($null -eq $item -or -not $item.LinkType) {
        return $false
    }
    $points = @($item.Target | ForEach-Object { "$_".TrimEnd('\') })
    return ($points.Count -eq 1 -and $points[0] -eq $Target.TrimEnd('\'))
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
        the template; everything else stays as in the template, with the
        template's value. A setting the site must not have at all (the host's
        own site has no CODEB_TENANT) is named in -RemoveSetting and taken out.

        Get, compare, set: the file is written only if it would change, so a
        rerun leaves it alone and IIS does not restart the site for nothing.
    .PARAMETER TemplatePath
        The release's web.config, or its deploy\web.httpplatform.config.
    .PARAMETER Destination
        The site's web.config.
    .PARAMETER AppSetting
        The site's settings and their values, such as CODEB_TENANT.
    .PARAMETER RemoveSetting
        Settings of the template the site does not get (each must be in the
        template, and none may be in -AppSetting).
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

        [string[]]$RemoveSetting = @(),

        [Parameter(Mandatory, ParameterSetName = 'WfastCgi')]
        [string]$ScriptProcessor,

        [Parameter(Mandatory, ParameterSetName = 'HttpPlatform')]
        [string]$ProcessPath
    )

    $document = New-Object System.Xml.XmlDocument
    $document.PreserveWhitespace = $true
    $document.Load($TemplatePath)
    Assert-CodebSiteTemplate -Document $document -TemplatePath $TemplatePath

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
    foreach ($key in $RemoveSetting) {
        if ($AppSetting.ContainsKey($key)) {
            throw "The setting '$key' cannot be both given and removed."
        }
        $node = $document.SelectSingleNode($settingPath -f $key)
        if ($null -eq $node) {
            throw "The template '$TemplatePath' has no setting '$key'."
        }
        # The indentation before it goes too, so no blank line is left where it was.
        $before = $node.PreviousSibling
        if ($null -ne $before -and $before.NodeType -eq [System.Xml.XmlNodeType]::Whitespace) {
            $null = $node.ParentNode.RemoveChild($before)
        }
        $null = $node.ParentNode.RemoveChild($node)
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

function Assert-CodebSiteTemplate {
    <#
    .SYNOPSIS
        Throw unless a site template redirects HTTP to HTTPS and serves ACME challenges.
    .DESCRIPTION
        Both site templates carry the URL Rewrite rule CodeB-HTTPS and the location
        .well-known/acme-challenge; a template of an older release without them
        would leave a tenant reachable over plain HTTP, or unable to renew its
        certificate.
    .PARAMETER Document
        The loaded template.
    .PARAMETER TemplatePath
        Its path, for the message.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [System.Xml.XmlDocument]$Document,

        [Parameter(Mandatory)]
        [string]$TemplatePath
    )

    $rule = $Document.SelectSingleNode("//system.webServer/rewrite/rules/rule[@name='$script:RedirectRuleName']")
    $challenges = $Document.SelectSingleNode("//location[@path='$script:AcmeChallengePath']")
    if ($null -eq $rule -or $null -eq $challenges) {
        throw "The template '$TemplatePath' lacks the HTTP-to-HTTPS rule or the ACME challenge location: install a current release."
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
        Create a tenant's IIS site: an HTTP binding per host name, and an HTTPS
        binding (SNI) per host name once it has a certificate.
    .DESCRIPTION
        The HTTP bindings answer ACME HTTP-01 challenges and redirect every other
        request to HTTPS (web.config's URL Rewrite rule). With -Thumbprint the
        HTTPS bindings are made too (Set-CodebSiteBinding); without it, they
        follow when the tenant's certificate exists. Anonymous requests (static
        files included) run as the pool identity, so the site folder needs no
        access for IUSR.
    .PARAMETER Name
        The site name (codeb-<tenant>).
    .PARAMETER PoolName
        The application pool that runs the site.
    .PARAMETER PhysicalPath
        The site folder.
    .PARAMETER HostName
        The host names, normalized (see ConvertTo-CodebHostName).
    .PARAMETER Thumbprint
        The certificate in Cert:\LocalMachine\My for the HTTPS bindings.
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

        [string]$Thumbprint
    )

    Invoke-CodebIisChange -ArgumentList @($Name, $PoolName, $PhysicalPath, $HostName[0]) -Change {
        param($manager, [string]$siteName, [string]$poolName, [string]$physicalPath, [string]$firstHost)

        $site = New-IISSite -Name $siteName -PhysicalPath $physicalPath -BindingInformation "*:80:$firstHost" `
            -Protocol http -Passthru
        $site.Applications['/'].ApplicationPoolName = $poolName
        $site.ServerAutoStart = $true

        $anonymous = $manager.GetApplicationHostConfiguration().GetSection(
            'system.webServer/security/authentication/anonymousAuthentication', $siteName)
        $anonymous['enabled'] = $true
        $anonymous['userName'] = ''

        # Prosody's community module mod_auth_http asks /xmpp/auth with the password in the
        # query string: no access log line there. httpLogging is locked for web.config files,
        # so this is a location of applicationHost.config.
        $logging = $manager.GetApplicationHostConfiguration().GetSection(
            'system.webServer/httpLogging', "$siteName/xmpp/auth")
        $logging['dontLog'] = $true
    }
    $null = Set-CodebSiteBinding -Name $Name -HostName $HostName -Thumbprint $Thumbprint
}

function Assert-CodebSiteServes {
    <#
    .SYNOPSIS
        Throw unless an existing site runs in this pool from this folder.
    .DESCRIPTION
        A site of the tenant's name that serves something else was made by
        someone else: the scripts never take it over.
    .PARAMETER Name
        The site name.
    .PARAMETER PoolName
        The pool it must run in.
    .PARAMETER PhysicalPath
        The folder it must serve.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$PoolName,

        [Parameter(Mandatory)]
        [string]$PhysicalPath
    )

    Reset-IISServerManager -Confirm:$false
    $application = (Get-IISSite -Name $Name).Applications['/']
    $folder = [Environment]::ExpandEnvironmentVariables($application.VirtualDirectories['/'].PhysicalPath).TrimEnd('\')
    if ($application.ApplicationPoolName -ne $PoolName -or $folder -ne $PhysicalPath.TrimEnd('\')) {
        throw "The IIS site '$Name' exists but runs in pool '$($application.ApplicationPoolName)' from '$folder'; it is not this tenant's."
    }
}

function Set-CodebSiteBinding {
    <#
    .SYNOPSIS
        Make a site's bindings one HTTP binding per host name and, given a
        certificate, one HTTPS binding (SNI) per host name with it.
    .DESCRIPTION
        Get, compare, set: a binding that is there with the right certificate
        stays; an HTTPS binding with another certificate is bound again (in
        HTTP.sys too); one that is missing is added. Bindings of other host
        names are left alone. Returns whether anything changed.
    .PARAMETER Name
        The site name.
    .PARAMETER HostName
        The host names, normalized.
    .PARAMETER Thumbprint
        The certificate for the HTTPS bindings; without it only the HTTP bindings are made.
    .OUTPUTS
        System.Boolean
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string[]]$HostName,

        [string]$Thumbprint
    )

    $changed = $false
    foreach ($siteHost in $HostName) {
        Reset-IISServerManager -Confirm:$false
        $bindings = @((Get-IISSite -Name $Name).Bindings)
        if (-not ($bindings | Where-Object { $_.Protocol -eq 'http' -and $_.BindingInformation -eq "*:80:$siteHost" })) {
            New-IISSiteBinding -Name $Name -BindingInformation "*:80:$siteHost" -Protocol http
            $changed = $true
        }
        if (-not $Thumbprint) {
            continue
        }
        $https = $bindings | Where-Object { $_.Protocol -eq 'https' -and $_.BindingInformation -eq "*:443:$siteHost" }
        $bound = $null
        if ($null -ne $https) {
            $bound = [System.BitConverter]::ToString(@($https)[0].CertificateHash).Replace('-', '')
        }
        if ($bound -eq $Thumbprint.ToUpperInvariant()) {
            continue
        }
        if ($null -ne $bound) {
            Reset-IISServerManager -Confirm:$false
            Remove-IISSiteBinding -Name $Name -BindingInformation "*:443:$siteHost" -Protocol https -Confirm:$false
        }
        Reset-IISServerManager -Confirm:$false
        New-IISSiteBinding -Name $Name -BindingInformation "*:443:$siteHost" -Protocol https `
            -CertificateThumbPrint $Thumbprint -CertStoreLocation $script:CertificateStore -SslFlag Sni
        $changed = $true
    }
    Reset-IISServerManager -Confirm:$false
    return $changed
}

function Get-CodebSiteCertificate {
    <#
    .SYNOPSIS
        The thumbprints of the certificates a site's HTTPS bindings use.
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
            Where-Object { $_.Protocol -eq 'https' -and $null -ne $_.CertificateHash } |
            ForEach-Object { [System.BitConverter]::ToString($_.CertificateHash).Replace('-', '') } |
            Sort-Object -Unique
    )
}

function Test-CodebCertificateInUse {
    <#
    .SYNOPSIS
        Whether an HTTPS binding of any site other than one uses a certificate.
    .PARAMETER Thumbprint
        The certificate's thumbprint.
    .PARAMETER ExceptSite
        The site whose bindings do not count (the one being removed).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [string]$ExceptSite
    )

    Reset-IISServerManager -Confirm:$false
    foreach ($site in (Get-IISServerManager).Sites) {
        if ($site.Name -eq $ExceptSite) {
            continue
        }
        foreach ($binding in $site.Bindings) {
            if ($binding.Protocol -eq 'https' -and $null -ne $binding.CertificateHash -and
                [System.BitConverter]::ToString($binding.CertificateHash).Replace('-', '') -eq $Thumbprint.ToUpperInvariant()) {
                return $true
            }
        }
    }
    return $false
}

function Test-CodebRewriteModule {
    <#
    .SYNOPSIS
        Whether IIS has the URL Rewrite module, which web.config's HTTP-to-HTTPS rule needs.
    .DESCRIPTION
        URL Rewrite 2.1 is a separate download from Microsoft; it registers the
        global module RewriteModule. Without it IIS refuses every request of a
        site whose web.config has a rewrite section (HTTP error 500.19).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param()

    Reset-IISServerManager -Confirm:$false
    $modules = (Get-IISServerManager).GetApplicationHostConfiguration().GetSection('system.webServer/globalModules').GetCollection()
    foreach ($module in $modules) {
        if ($module['name'] -eq 'RewriteModule') {
            return $true
        }
    }
    return $false
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
