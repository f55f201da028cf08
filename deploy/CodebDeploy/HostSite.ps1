# The host's own site, codeb-host: where strangers get a tenant (the sign-up page
# /get-your-tenant.html, codeb/provisioning/site.py). It serves no tenant: its web.config
# has no CODEB_TENANT, and the app knows the site by its Host name (python -m codeb host set).
# Its pool may list the host's data root and change only <root>\App_Data\_host (the sign-up
# spool, the host index); it can open no tenant's folder.


function Get-CodebHostSitePath {
    <#
    .SYNOPSIS
        The names and paths of the host's own site (the sign-up page).
    .DESCRIPTION
        The site and its application pool are both codeb-host, a name no tenant
        gets (Get-CodebPoolName refuses the tenant name host). Its folder is
        <root>\sites\_host, which links to the release like a tenant's site
        folder; its data root is the host's, <root>\App_Data, of which it may
        change only <root>\App_Data\_host.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    $siteFolder = Join-Path $Layout.Sites $script:HostFolderName
    [pscustomobject]@{
        Layout          = $Layout
        SiteName        = $script:HostSiteName
        PoolName        = $script:HostSiteName
        SiteFolder      = $siteFolder
        WebConfig       = Join-Path $siteFolder 'web.config'
        DataRoot        = $Layout.Data
        HostData        = Join-Path $Layout.Data $script:HostFolderName
        CertificateName = $script:HostCertificateName
    }
}

function Find-CodebHostPoolSid {
    <#
    .SYNOPSIS
        The SID of IIS AppPool\codeb-host if that pool exists; nothing otherwise.
    .DESCRIPTION
        Asks Windows for the pool's virtual account, so it needs no IIS module:
        Initialize-CodebHost.ps1 sets the data root's ACL before it knows whether IIS is ready.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Principal.SecurityIdentifier])]
    param()

    $account = New-Object System.Security.Principal.NTAccount('IIS AppPool', $script:HostSiteName)
    try {
        return $account.Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        return $null
    }
}

function Set-CodebHostDataAcl {
    <#
    .SYNOPSIS
        The ACL of the host's data root <root>\App_Data: SYSTEM and Administrators, and the
        host site's pool allowed to list that one folder; unless it is so already.
    .DESCRIPTION
        SYSTEM and Administrators have full control (the worker makes tenants here).
        If the pool codeb-host exists, IIS AppPool\codeb-host may list the folder and
        read its attributes (ListDirectory, ReadAttributes), on the folder itself only:
        the rule is not inherited, so it reaches neither a tenant's folder (each has
        inheritance cut anyway, Set-CodebTenantDataAcl) nor anything else below. The
        sign-up page needs exactly that: whether a tenant's folder exists is read from
        the listing. Its own folder, <root>\App_Data\_host, gets Modify separately
        (Install-CodebHostSite). Get, compare, set (Set-CodebFolderAcl), so the ACL
        that Initialize-CodebHost.ps1 sets on every run and the one the host site's
        step sets are the same, and a rerun changes nothing.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .OUTPUTS
        System.Boolean: whether the permissions were changed.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    $rules = @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl)
    )
    $poolSid = Find-CodebHostPoolSid
    if ($null -ne $poolSid) {
        $rules += New-CodebAccessRule -Identity $poolSid -Rights 'ListDirectory, ReadAttributes' -Scope FolderOnly
    }
    return (Set-CodebFolderAcl -Path $Layout.Data -Rule $rules)
}

function Set-CodebHostAppPool {
    <#
    .SYNOPSIS
        Make the host site's application pool as New-CodebAppPool makes a tenant's; whether it changed.
    .DESCRIPTION
        Get, compare, set: a missing pool is created (ApplicationPoolIdentity, no
        managed runtime, integrated pipeline); an existing one whose identity,
        runtime or pipeline differs is set back; one that is so already is left alone.
    .PARAMETER Name
        The pool name (codeb-host).
    .OUTPUTS
        System.String: created, updated, or nothing when it was right.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    if (-not (Test-CodebAppPool -Name $Name)) {
        New-CodebAppPool -Name $Name
        return 'created'
    }
    Reset-IISServerManager -Confirm:$false
    $pool = (Get-IISServerManager).ApplicationPools[$Name]
    if ("$($pool.ProcessModel.IdentityType)" -eq 'ApplicationPoolIdentity' -and $pool.ManagedRuntimeVersion -eq '' -and
        "$($pool.ManagedPipelineMode)" -eq 'Integrated') {
        return
    }
    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$poolName)

        $existing = $manager.ApplicationPools[$poolName]
        $existing.ManagedRuntimeVersion = ''
        $existing.ManagedPipelineMode = 'Integrated'
        $existing.ProcessModel.IdentityType = 'ApplicationPoolIdentity'
    }
    return 'updated'
}

function Install-CodebHostSite {
    <#
    .SYNOPSIS
        Set up the host's own site, codeb-host, which serves the sign-up page under its
        host name: pool, site folder, web.config, ACLs, bindings, certificate, and its
        settings (python -m codeb host set). Each step get-compare-set.
    .DESCRIPTION
        Every check comes before the first change: the host is prepared, the host name
        is bound to no other IIS site, a site named codeb-host serves this folder in
        this pool, and ACME (win-acme, from Initialize-CodebHost.ps1 -WacsPath
        -AcmeEmail) is set up unless -SelfSigned. Then:

        1. python -m codeb --data <root>\App_Data host set --site NAME --parent DOMAIN
           --windows-worker yes [--terms-url URL]: the app serves the sign-up page to
           requests for NAME. It also refuses a NAME that a tenant serves or claims in
           the host index, so it runs first: a refusal leaves IIS untouched.
        2. The application pool codeb-host: ApplicationPoolIdentity, no managed runtime.
        3. The site folder <root>\sites\_host, linked to the release like a tenant's,
           and its web.config from the release's template (-Hosting): PYTHONPATH the
           site folder, CODEB_DATA the host's data root, the host's mail settings, and
           no CODEB_TENANT at all (the setting is taken out, not left at the template's
           value): the app knows the host site by its Host name.
        4. The ACLs, least privilege: the site folder readable by SYSTEM,
           Administrators and IIS AppPool\codeb-host only; on <root>\App_Data the pool
           may list that folder itself and nothing below (Set-CodebHostDataAcl);
           <root>\App_Data\_host (the spool, the host index, the sign-up counters) is
           modifiable by it, inherited below, with inheritance from the data root cut;
           no tenant folder grants it anything. The pool may drop mail into the
           staging and Pickup folders (the verification mails).
        5. The site codeb-host with an HTTP binding for NAME (ACME HTTP-01 challenges,
           and the redirect to HTTPS).
        6. The certificate, as for a tenant (Get-CodebTenantCertificate): from the ACME
           CA through win-acme, validated over HTTP-01 through this site and renewed
           by win-acme; or with -SelfSigned a self-signed one (tests only). A valid one
           for 14 more days is kept. Then an HTTPS binding (SNI) for NAME with it.

        Returns what was done (Changes is empty when a rerun found everything in place).
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER HostName
        The host site's name, such as www.codeb.example.
    .PARAMETER ParentDomain
        New tenants are <subdomain>.<ParentDomain>, such as codeb.example.
    .PARAMETER TermsUrl
        The operator's terms (https), which the sign-up form asks to accept. Not given:
        the saved terms stay; an empty string removes them.
    .PARAMETER SelfSigned
        A self-signed certificate instead of one from the ACME CA. For tests only.
    .PARAMETER Hosting
        WfastCgi (the release's web.config) or HttpPlatform (deploy\web.httpplatform.config).
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [string]$HostName,

        [Parameter(Mandatory)]
        [string]$ParentDomain,

        [AllowEmptyString()]
        [string]$TermsUrl,

        [switch]$SelfSigned,

        [ValidateSet('WfastCgi', 'HttpPlatform')]
        [string]$Hosting = 'WfastCgi'
    )

    $paths = Get-CodebHostSitePath -Layout $Layout
    $siteHost = @(ConvertTo-CodebHostName -HostName $HostName)[0]
    $parent = @(ConvertTo-CodebHostName -HostName $ParentDomain)[0]
    $changes = New-Object System.Collections.Generic.List[string]

    # --- Every check before the first change.
    Assert-CodebHostPrepared -Layout $Layout
    if ($Hosting -eq 'HttpPlatform') {
        $template = Join-Path $Layout.App 'deploy\web.httpplatform.config'
        if (-not (Test-CodebHttpPlatformHandler)) {
            throw 'IIS has no HttpPlatformHandler module: install it (HttpPlatformHandler v1.2 from Microsoft), or use -Hosting WfastCgi.'
        }
    }
    else {
        $template = Join-Path $Layout.App 'web.config'
    }
    if (-not (Test-Path -LiteralPath $template -PathType Leaf)) {
        throw "The release has no '$template': run Initialize-CodebHost.ps1 from a complete release."
    }
    $conflicts = @(Find-CodebBindingConflict -HostName @($siteHost) | Where-Object { $_.Site -ne $paths.SiteName })
    if ($conflicts.Count -gt 0) {
        throw "The host name $siteHost is already bound to the IIS site '$($conflicts[0].Site)': the sign-up site needs a name of its own."
    }
    if (Test-CodebSite -Name $paths.SiteName) {
        Assert-CodebSiteServes -Name $paths.SiteName -PoolName $paths.PoolName -PhysicalPath $paths.SiteFolder
    }
    $hostSettings = Get-CodebHostSetting -Layout $Layout
    $source = 'acme'
    if ($SelfSigned) {
        $source = 'self-signed'
    }
    elseif (-not $hostSettings.Acme['Wacs'] -or -not $hostSettings.Acme['Email']) {
        throw 'The sign-up site needs a certificate: name win-acme (-WacsPath, -AcmeEmail), or pass -SelfSigned for a test host.'
    }

    # --- 1. The app's side: requests for this name get the sign-up page.
    if ($PSCmdlet.ShouldProcess($siteHost, 'Name the host site (python -m codeb host set)')) {
        $arguments = @('--data', $paths.DataRoot, 'host', 'set', '--site', $siteHost, '--parent', $parent, '--windows-worker', 'yes')
        if ($PSBoundParameters.ContainsKey('TermsUrl')) {
            $arguments += @('--terms-url', $TermsUrl)
        }
        $before = Invoke-CodebPython -Layout $Layout -DataRoot $paths.DataRoot -ArgumentList @('host', 'show')
        $shown = Invoke-CodebPython -Layout $Layout -DataRoot $paths.DataRoot -ArgumentList $arguments
        if (($before -replace '\s+', '') -cne ($shown -replace '\s+', '')) {
            $changes.Add("host set: $siteHost under $parent")
        }
    }

    # --- 2. The application pool.
    if ($PSCmdlet.ShouldProcess($paths.PoolName, 'Create the application pool (or set its identity and runtime)')) {
        $pool = Set-CodebHostAppPool -Name $paths.PoolName
        if ($pool) {
            $changes.Add("pool $($paths.PoolName) $pool")
        }
    }

    # --- 3. The site folder and its web.config.
    if ($PSCmdlet.ShouldProcess($paths.SiteFolder, 'Create the site folder, link it to the release and write web.config')) {
        $null = New-Item -ItemType Directory -Path $paths.SiteFolder -Force -Confirm:$false
        Install-CodebSiteCode -Layout $Layout -SiteFolder $paths.SiteFolder
        $siteSettings = @{
            PYTHONPATH = $paths.SiteFolder
            CODEB_DATA = $paths.DataRoot
        } + (Get-CodebSmtpAppSetting -Smtp $hostSettings.Smtp)
        $writtenAt = $null  # a time, read now: Write-CodebWebConfig replaces the file only if it changes
        if (Test-Path -LiteralPath $paths.WebConfig -PathType Leaf) {
            $writtenAt = [System.IO.File]::GetLastWriteTimeUtc($paths.WebConfig)
        }
        if ($Hosting -eq 'HttpPlatform') {
            Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                -RemoveSetting @('CODEB_TENANT') -ProcessPath $Layout.Python
        }
        else {
            Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                -RemoveSetting @('CODEB_TENANT') -ScriptProcessor $Layout.ScriptProcessor
        }
        if ($null -eq $writtenAt -or $writtenAt -ne [System.IO.File]::GetLastWriteTimeUtc($paths.WebConfig)) {
            $changes.Add("$($paths.WebConfig) written")
        }
    }

    # --- 4. The ACLs: read its folder, list the data root, change _host; nothing of a tenant's.
    if ($PSCmdlet.ShouldProcess($paths.DataRoot, "Give IIS AppPool\$($paths.PoolName) its folder, a listing of the data root and Modify on _host")) {
        $poolSid = Get-CodebPoolSid -PoolName $paths.PoolName
        $system = New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl
        $administrators = New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl
        if (Set-CodebFolderAcl -Path $paths.SiteFolder -Rule @($system, $administrators,
                (New-CodebAccessRule -Identity $poolSid -Rights ReadAndExecute))) {
            $changes.Add("$($paths.SiteFolder) readable by IIS AppPool\$($paths.PoolName) only")
        }
        if (Set-CodebHostDataAcl -Layout $Layout) {
            $changes.Add("$($paths.DataRoot) listable by IIS AppPool\$($paths.PoolName), that folder only")
        }
        $null = New-Item -ItemType Directory -Path $paths.HostData -Force -Confirm:$false
        if (Set-CodebFolderAcl -Path $paths.HostData -Rule @($system, $administrators,
                (New-CodebAccessRule -Identity $poolSid -Rights Modify -Scope Tree))) {
            $changes.Add("$($paths.HostData) modifiable by IIS AppPool\$($paths.PoolName)")
        }
        Grant-CodebMailAccess -Layout $Layout -PoolSid $poolSid
    }

    # --- 5. The site, with its HTTP binding (ACME challenges, the redirect to HTTPS).
    if ($PSCmdlet.ShouldProcess($paths.SiteName, "Create the IIS site with an HTTP binding for $siteHost")) {
        if (-not (Test-CodebSite -Name $paths.SiteName)) {
            New-CodebSite -Name $paths.SiteName -PoolName $paths.PoolName -PhysicalPath $paths.SiteFolder -HostName @($siteHost)
            $changes.Add("site $($paths.SiteName) created")
        }
        elseif (Set-CodebSiteBinding -Name $paths.SiteName -HostName @($siteHost)) {
            $changes.Add("HTTP binding for $siteHost added")
        }
    }

    # --- 6. The certificate, as a tenant's, and the HTTPS binding (SNI).
    $thumbprint = $null
    if ($PSCmdlet.ShouldProcess($siteHost, "Get the $source certificate and bind it over HTTPS (SNI)")) {
        $certificate = Get-CodebTenantCertificate -Tenant $paths.CertificateName -HostName @($siteHost) -Source $source `
            -SiteName $paths.SiteName -SiteFolder $paths.SiteFolder -Acme $hostSettings.Acme
        $thumbprint = $certificate.Thumbprint
        if (Set-CodebSiteBinding -Name $paths.SiteName -HostName @($siteHost) -Thumbprint $thumbprint) {
            $changes.Add("HTTPS binding (SNI) for $siteHost with $source certificate $thumbprint")
        }
        if ($SelfSigned) {
            Write-Warning 'A self-signed certificate is for tests only: browsers do not trust it.'
        }
    }

    [pscustomobject]@{
        Site        = $paths.SiteName
        AppPool     = $paths.PoolName
        HostName    = $siteHost
        Parent      = $parent
        Url         = "https://$siteHost/get-your-tenant.html"
        SiteFolder  = $paths.SiteFolder
        Data        = $paths.DataRoot
        Certificate = $thumbprint
        Changes     = $changes.ToArray()
    }
}
