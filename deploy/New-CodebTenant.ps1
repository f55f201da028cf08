#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Create a CodeB tenant: its folder, application pool, IIS site, TLS bindings and data.

.DESCRIPTION
    On a host prepared with Initialize-CodebHost.ps1, creates:

      <Root>\sites\<Name>\                 the site folder; codeb\, templates\, static\
                                           and app.py link to the release in <Root>\app
      <Root>\sites\<Name>\web.config       from the release's template for -Hosting, bound
                                           to this tenant (CODEB_TENANT) and its data (CODEB_DATA)
      <Root>\sites\<Name>\App_Data\<Name>\ the tenant's data (python -m codeb tenant create)

    an application pool codeb-<Name> (ApplicationPoolIdentity, no managed
    runtime), and an IIS site codeb-<Name> with one HTTPS binding (SNI) and one
    HTTP binding per host name; the HTTP bindings redirect to HTTPS (web.config's
    URL Rewrite rule) except ACME HTTP-01 challenges. Only IIS AppPool\codeb-<Name>
    (besides SYSTEM and Administrators) can read the site folder, and only it can
    modify App_Data\<Name>, whose inheritance is cut: no other pool can read it.
    The pool and site names are those of python -m codeb provision plan.

    If the host has a TURN server configuration (<Root>\turn\turnserver.base.conf),
    the tenant's TURN secret (python -m codeb turn show) is written where coturn
    reads it.

    Mail goes to the SMTP service's Pickup folder, or to the smarthost that
    Initialize-CodebHost.ps1 -SmtpHost named (the site's CODEB_SMTP_* settings).

    The TLS certificate is, in this order of choice: the one given by
    -CertificateThumbprint; a new self-signed one with -SelfSigned (for tests
    only: browsers do not trust it); otherwise the longest-valid certificate in
    Cert:\LocalMachine\My that names every host (for example one an ACME client
    installed).

    Python serves the site in one of two ways (-Hosting): through wfastcgi, a
    FastCGI application of IIS (the release's web.config), or as a waitress
    process that IIS's HttpPlatformHandler starts and forwards requests to
    (the release's deploy\web.httpplatform.config). Both give the same site:
    the same settings, request filtering and static files served by IIS.

    Nothing is changed before every check has passed, and if a step fails, what
    this run created is removed again.

.PARAMETER Name
    The tenant name: a lowercase DNS label such as acme. It names the data
    folder; the site and the application pool are codeb-<Name>.

.PARAMETER HostName
    The DNS names the tenant is reached by, such as login.acme.com and
    phone.acme.com. Each must resolve to this host.

.PARAMETER AdminEmail
    The e-mail address of the tenant's first administrator.

.PARAMETER SignUp
    Who may create an account: open (anyone), domains (addresses of the
    e-mail domains named by -Domain) or invite (only invited people).
    Default: the application's default.

.PARAMETER Domain
    The e-mail domains whose addresses may sign up when -SignUp is domains.

.PARAMETER CertificateThumbprint
    The thumbprint of a certificate in Cert:\LocalMachine\My that names every
    host name and has its private key.

.PARAMETER SelfSigned
    Create a self-signed certificate for the host names. For test tenants only.

.PARAMETER AdoptExistingData
    Serve data that is already in App_Data\<Name> (kept by
    Remove-CodebTenant.ps1, or copied in) instead of creating a new tenant.

.PARAMETER Hosting
    How IIS runs Python for the site: WfastCgi (the default; wfastcgi, registered
    by Initialize-CodebHost.ps1) or HttpPlatform (waitress behind the
    HttpPlatformHandler module, which must be installed; wfastcgi is no longer
    maintained upstream).

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\New-CodebTenant.ps1 -Name acme -HostName login.acme.com, phone.acme.com -AdminEmail it@acme.com -SignUp domains -Domain acme.com

    Creates tenant acme with the certificate in the machine store that names
    both hosts.

.EXAMPLE
    .\New-CodebTenant.ps1 -Name acme -HostName login.acme.com -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567

    Creates tenant acme with a given certificate.

.EXAMPLE
    .\New-CodebTenant.ps1 -Name test1 -HostName test1.codeb.example -SelfSigned -SignUp invite

    Creates a test tenant with a self-signed certificate.

.EXAMPLE
    .\New-CodebTenant.ps1 -Name acme -HostName login.acme.com -Hosting HttpPlatform

    Creates tenant acme served by waitress behind HttpPlatformHandler instead of wfastcgi.
#>
[CmdletBinding(SupportsShouldProcess, DefaultParameterSetName = 'FindCertificate')]
param(
    [Parameter(Mandatory, Position = 0)]
    [ValidatePattern('^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$', Options = 'None')]
    [string]$Name,

    [Parameter(Mandatory)]
    [ValidateCount(1, 32)]
    [ValidatePattern('^(?=.{1,254}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\.?$')]
    [string[]]$HostName,

    [ValidatePattern('^[^@\s]+@[^@\s]+\.[^@\s]+$')]
    [string]$AdminEmail,

    [ValidateSet('open', 'domains', 'invite')]
    [string]$SignUp,

    [ValidatePattern('^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$')]
    [string[]]$Domain,

    [Parameter(Mandatory, ParameterSetName = 'Thumbprint')]
    [ValidatePattern('^[0-9A-Fa-f]{40}$')]
    [string]$CertificateThumbprint,

    [Parameter(Mandatory, ParameterSetName = 'SelfSigned')]
    [switch]$SelfSigned,

    [switch]$AdoptExistingData,

    [ValidateSet('WfastCgi', 'HttpPlatform')]
    [string]$Hosting = 'WfastCgi',

    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force
Import-Module IISAdministration

Assert-CodebAdministrator
Assert-CodebTenantName -Name $Name
$hosts = @(ConvertTo-CodebHostName -HostName $HostName)
$paths = Get-CodebTenantPath -Name $Name -Root $Root
$layout = $paths.Layout

# --- Every check before the first change.
Assert-CodebHostPrepared -Layout $layout
if (Test-CodebSite -Name $paths.SiteName) {
    throw "An IIS site named '$($paths.SiteName)' already exists."
}
if ($SignUp -eq 'domains' -and -not $Domain) {
    throw '-SignUp domains needs at least one -Domain: otherwise nobody could sign up.'
}
if (Test-CodebAppPool -Name $paths.PoolName) {
    throw "An application pool named '$($paths.PoolName)' already exists."
}
$conflicts = @(Find-CodebBindingConflict -HostName $hosts)
if ($conflicts.Count -gt 0) {
    $taken = $conflicts | ForEach-Object { "$($_.HostName) (site '$($_.Site)')" }
    throw "Host names already bound on this server: $($taken -join ', ')."
}

$hasData = Test-Path -LiteralPath $paths.TenantFile -PathType Leaf
if ($hasData -and -not $AdoptExistingData) {
    throw "Tenant data already exists in '$($paths.TenantData)'. Pass -AdoptExistingData to serve it, or move it away."
}
if ($AdoptExistingData -and -not $hasData) {
    throw "-AdoptExistingData was given, but '$($paths.TenantFile)' does not exist."
}

if ($Hosting -eq 'HttpPlatform') {
    $template = Join-Path $layout.App 'deploy\web.httpplatform.config'
    if (-not (Test-CodebHttpPlatformHandler)) {
        throw 'IIS has no HttpPlatformHandler module: install it (HttpPlatformHandler v1.2 from Microsoft), or use -Hosting WfastCgi.'
    }
}
else {
    $template = Join-Path $layout.App 'web.config'
}
if (-not (Test-CodebRewriteModule)) {
    throw 'IIS has no URL Rewrite module, which web.config redirects HTTP to HTTPS with: install URL Rewrite 2.1 from Microsoft.'
}
$mailSettings = Get-CodebSmtpAppSetting -Smtp (Get-CodebHostSetting -Layout $layout).Smtp
if (-not (Test-Path -LiteralPath $template -PathType Leaf)) {
    throw "The release has no '$template': run Initialize-CodebHost.ps1 from a complete release."
}

$certificate = $null
switch ($PSCmdlet.ParameterSetName) {
    'Thumbprint' {
        $certificate = Get-CodebCertificate -Thumbprint $CertificateThumbprint -HostName $hosts
    }
    'FindCertificate' {
        $certificate = Find-CodebCertificate -HostName $hosts
        if ($null -eq $certificate) {
            throw ("No valid certificate with a private key in Cert:\LocalMachine\My names {0}. " +
                'Import one and pass -CertificateThumbprint, or pass -SelfSigned for a test tenant.') -f ($hosts -join ', ')
        }
    }
}

# --- The changes; each one registers how to undo it.
$undo = New-Object System.Collections.Generic.List[scriptblock]
try {
    if ($SelfSigned -and $PSCmdlet.ShouldProcess(($hosts -join ', '), 'Create a self-signed certificate')) {
        $certificate = New-CodebSelfSignedCertificate -Tenant $Name -HostName $hosts
        $undo.Insert(0, { Remove-Item -LiteralPath (Join-Path 'Cert:\LocalMachine\My' $certificate.Thumbprint) -Confirm:$false })
        Write-Warning 'A self-signed certificate is for tests only: browsers do not trust it, and passkeys need a trusted one.'
    }

    if ($PSCmdlet.ShouldProcess($paths.SiteFolder, 'Create the site folder, link it to the release and write web.config')) {
        if (Test-Path -LiteralPath $paths.SiteFolder) {
            $undo.Insert(0, { Remove-CodebSiteCode -SiteFolder $paths.SiteFolder })
        }
        else {
            $undo.Insert(0, { Remove-CodebTree -Path $paths.SiteFolder })
        }
        $null = New-Item -ItemType Directory -Path $paths.TenantData -Force -Confirm:$false
        Install-CodebSiteCode -Layout $layout -SiteFolder $paths.SiteFolder
        # The same settings either way: appSettings for wfastcgi, environment variables for HttpPlatformHandler.
        $siteSettings = @{
            PYTHONPATH   = $paths.SiteFolder
            CODEB_TENANT = $Name
            CODEB_DATA   = $paths.DataRoot
        } + $mailSettings
        if ($Hosting -eq 'HttpPlatform') {
            Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                -ProcessPath $layout.Python
        }
        else {
            Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                -ScriptProcessor $layout.ScriptProcessor
        }
    }

    if ($PSCmdlet.ShouldProcess($paths.PoolName, 'Create the application pool')) {
        New-CodebAppPool -Name $paths.PoolName
        $undo.Insert(0, { Remove-CodebAppPool -Name $paths.PoolName })
    }

    if ($PSCmdlet.ShouldProcess($paths.SiteFolder, "Give IIS AppPool\$($paths.PoolName) sole access to the site folder and the mail folders")) {
        $poolSid = Get-CodebPoolSid -PoolName $paths.PoolName
        $null = Set-CodebSiteAcl -Paths $paths -PoolSid $poolSid
        Grant-CodebMailAccess -Layout $layout -PoolSid $poolSid
        $undo.Insert(0, { Revoke-CodebMailAccess -Layout $layout -PoolSid $poolSid })
    }

    if (-not $AdoptExistingData -and $PSCmdlet.ShouldProcess($paths.TenantData, 'Create the tenant (python -m codeb tenant create)')) {
        $arguments = @('-m', 'codeb', 'tenant', 'create', $Name)
        foreach ($tenantHost in $hosts) {
            $arguments += @('--host', $tenantHost)
        }
        if ($AdminEmail) {
            $arguments += @('--admin-email', $AdminEmail)
        }
        if ($SignUp) {
            $arguments += @('--signup', $SignUp)
        }
        foreach ($signUpDomain in $Domain) {
            $arguments += @('--domain', $signUpDomain)
        }
        Invoke-CodebNative -FilePath $layout.Python -ArgumentList $arguments -WorkingDirectory $paths.SiteFolder `
            -Environment @{ CODEB_DATA = $paths.DataRoot; CODEB_TENANT = $null }
        if (-not (Test-Path -LiteralPath $paths.TenantFile -PathType Leaf)) {
            throw "python -m codeb tenant create finished, but '$($paths.TenantFile)' does not exist."
        }
    }

    $hostSettings = Get-CodebHostSetting -Layout $layout
    $turnPaths = Get-CodebTurnPath -Layout $layout -Turn $hostSettings.Turn
    if ((Test-Path -LiteralPath $turnPaths.Base -PathType Leaf) -and
        $PSCmdlet.ShouldProcess($turnPaths.Config, "Give the host's TURN server the tenant's shared secret")) {
        $shown = Invoke-CodebPython -Layout $layout -DataRoot $paths.DataRoot -ArgumentList @('turn', 'show', $Name) |
            ConvertFrom-Json
        $null = Set-CodebTurnTenant -Layout $layout -Turn $hostSettings.Turn -Tenant $Name `
            -Realm $shown.coturn.realm -Secret @($shown.coturn.static_auth_secrets)
        $undo.Insert(0, {
            $null = Remove-CodebTurnTenant -Layout $layout -Turn $hostSettings.Turn -Tenant $Name
            $null = Update-CodebTurnConfig -Layout $layout -Turn $hostSettings.Turn
        })
        $null = Update-CodebTurnConfig -Layout $layout -Turn $hostSettings.Turn
    }

    if ($PSCmdlet.ShouldProcess($paths.SiteName, "Create the IIS site with HTTPS and HTTP bindings for $($hosts -join ', ')")) {
        if ($null -eq $certificate) {
            throw 'No certificate to bind.'
        }
        New-CodebSite -Name $paths.SiteName -PoolName $paths.PoolName -PhysicalPath $paths.SiteFolder `
            -HostName $hosts -Thumbprint $certificate.Thumbprint
        $undo.Insert(0, { Remove-CodebSite -Name $paths.SiteName })
    }
}
catch {
    $failure = $_
    Write-Warning "Creating tenant '$Name' failed: $($failure.Exception.Message) Undoing what this run changed."
    foreach ($step in $undo) {
        try {
            & $step
        }
        catch {
            Write-Warning "Could not undo '$($step.ToString().Trim())': $($_.Exception.Message)"
        }
    }
    throw $failure
}

$thumbprint = $null
if ($null -ne $certificate) {
    $thumbprint = $certificate.Thumbprint
}
[pscustomobject]@{
    Tenant      = $Name
    Site        = $paths.SiteName
    AppPool     = $paths.PoolName
    HostName    = $hosts
    Url         = "https://$($hosts[0])/"
    SiteFolder  = $paths.SiteFolder
    Data        = $paths.TenantData
    Certificate = $thumbprint
    Hosting     = $Hosting
}
