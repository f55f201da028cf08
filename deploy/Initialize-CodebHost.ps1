#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Prepare a Windows Server host for CodeB tenants (once; run again to upgrade).

.DESCRIPTION
    Installs IIS with CGI/FastCGI and the SMTP service, creates the SMTP pickup
    folder and the CodeB staging folder beside it, checks for Python 3.11,
    installs the release into <Root>\app, creates the shared virtual environment
    <Root>\venv with the packages from requirements.txt, and registers the
    venv's wfastcgi with IIS (wfastcgi-enable).

    It also creates the host's data root <Root>\App_Data (the sign-up spool and
    the tenants the provisioning worker makes), saves the host's settings in
    <Root>\host.json (the ACME client, the SMTP smarthost, the TURN server), and
    registers the provisioning worker, deploy\Invoke-CodebProvisioning.ps1, as
    the scheduled task \CodeB\CodeB provisioning: every minute, as SYSTEM, never
    two runs at once; and deploy\Invoke-CodebBackchannel.ps1 as the scheduled task
    \CodeB\CodeB back-channel logout, which sends the OpenID back-channel logout
    tokens that are due for every tenant (the retries a recycled or idle site left
    waiting): every 5 minutes, as SYSTEM, never two runs at once.

    With -SignupHostName and -ParentDomain it also sets up the host's own site,
    where strangers get a tenant (the sign-up page /get-your-tenant.html): the
    application pool and IIS site codeb-host in <Root>\sites\_host, linked to the
    release like a tenant's site, whose web.config has CODEB_DATA = <Root>\App_Data
    and no CODEB_TENANT; its pool may list <Root>\App_Data (that folder only) and
    modify <Root>\App_Data\_host, and can open no tenant's folder; an HTTPS binding
    (SNI) with a certificate from win-acme (HTTP-01) or, with -SelfSigned, a
    self-signed one; and python -m codeb host set names the site to the app.

    Every step checks what is already there, so running the script again with a
    newer release upgrades the host: the release and the packages are refreshed
    and the application pools of existing tenant sites (and of the sign-up
    site) are recycled. Settings
    not given again keep their saved values.

    Run it in Windows PowerShell 5.1 as Administrator.

.PARAMETER Root
    The installation root: <Root>\app (release), <Root>\venv, <Root>\sites.
    Default: C:\CodeB.

.PARAMETER PythonPath
    A Python 3.11 python.exe. Default: the py launcher's 3.11, else
    %ProgramFiles%\Python311 or C:\Python311.

.PARAMETER Source
    The release to install: the folder with app.py, codeb\, templates\,
    static\, web.config and requirements.txt. Default: the folder above this
    script.

.PARAMETER WheelHouse
    A folder of wheel files to install the Python packages from, for hosts
    without access to PyPI (pip --no-index --find-links).

.PARAMETER XmlSec1
    The xmlsec1.exe of an XML Security Library build for Windows (it checks the
    signatures of SAML company sign-ins). Saved as the machine's CODEB_XMLSEC1,
    which every application pool reads. Without it, xmlsec1.exe must be on the
    PATH of the pools, or SAML sign-in says that it is not set up.

.PARAMETER WacsPath
    The wacs.exe of win-acme, the ACME client that gets and renews the tenants'
    certificates (HTTP-01 through each tenant's site). Saved in host.json.

.PARAMETER AcmeEmail
    The e-mail address of the ACME account (expiry notices). Saved in host.json.

.PARAMETER AcmeBaseUri
    The ACME directory, if not win-acme's default (Let's Encrypt), for example
    https://acme-staging-v02.api.letsencrypt.org/ for tests. Saved in host.json.

.PARAMETER SmtpHost
    An SMTP smarthost to send mail through instead of the SMTP service's Pickup
    folder (the IIS SMTP service is deprecated in recent Windows Server
    releases). Saved in host.json; every site created or provisioned from then
    on gets it as CODEB_SMTP_HOST. Give an empty string to go back to Pickup.

.PARAMETER SmtpPort
    The smarthost's port. Default: 587 (submission).

.PARAMETER SmtpStartTls
    true (the default: no message goes unencrypted, nor a password) or false.

.PARAMETER SmtpUser
    The user name to authenticate to the smarthost with.

.PARAMETER SmtpPasswordFile
    A file holding the smarthost password. It is copied to
    <Root>\secrets\smtp-password.txt, readable by SYSTEM, Administrators and the
    application pools (IIS_IUSRS) only; the sites are given its path, never the password.

.PARAMETER TurnConfig
    The turnserver.conf the host's coturn reads, if not <Root>\turn\turnserver.conf
    (for example a share of the TURN server). Saved in host.json.

.PARAMETER TurnService
    The Windows service of coturn, restarted when its configuration changes. Saved in host.json.

.PARAMETER NoProvisioningTask
    Do not register the provisioning worker's scheduled task (a host without self-service sign-up).

.PARAMETER NoBackchannelTask
    Do not register the scheduled task that sends the back-channel logout tokens the
    sites' own processes left waiting (Invoke-CodebBackchannel.ps1, every 5 minutes).

.PARAMETER SignupHostName
    The host name of the host's own site, the sign-up page, such as
    www.codeb.example (it must resolve to this server). It serves no tenant, and
    no tenant may have it (python -m codeb host set refuses a name a tenant serves).

.PARAMETER ParentDomain
    The domain every tenant made on the sign-up page is a subdomain of, such as
    codeb.example (tenants are <subdomain>.codeb.example). Needed with -SignupHostName.

.PARAMETER TermsUrl
    The operator's terms (an https URL), which the sign-up form asks to accept. Not
    given: the saved terms stay; an empty string removes them.

.PARAMETER SelfSigned
    Give the sign-up site a self-signed certificate instead of one from the ACME CA
    (which needs -WacsPath and -AcmeEmail, now or saved). For test hosts only.

.PARAMETER Hosting
    How IIS runs Python for the sign-up site: WfastCgi (the default) or HttpPlatform,
    as New-CodebTenant.ps1 -Hosting.

.EXAMPLE
    .\Initialize-CodebHost.ps1

    Prepares the host with the defaults: C:\CodeB and the installed Python 3.11.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -WacsPath C:\win-acme\wacs.exe -AcmeEmail it@codeb.example -SmtpHost smtp.codeb.example -SmtpUser codeb -SmtpPasswordFile D:\smtp.txt

    Prepares the host to get certificates from Let's Encrypt and to send mail through a smarthost.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -Root D:\CodeB -PythonPath 'C:\Program Files\Python311\python.exe' -WheelHouse D:\wheels

    Installs into D:\CodeB without reaching PyPI.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -WacsPath C:\win-acme\wacs.exe -AcmeEmail it@codeb.example -SignupHostName www.codeb.example -ParentDomain codeb.example -TermsUrl https://www.codeb.example/terms

    Prepares the host and its sign-up site www.codeb.example, whose new tenants
    are <subdomain>.codeb.example, with a certificate from Let's Encrypt.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -SignupHostName www.codeb.test -ParentDomain codeb.test -SelfSigned

    A test host whose sign-up site has a self-signed certificate.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -WhatIf

    Shows what would be installed and changed.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB'),

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string]$PythonPath,

    [ValidateScript({ Test-Path -LiteralPath (Join-Path $_ 'app.py') -PathType Leaf })]
    [string]$Source = (Split-Path -Parent $PSScriptRoot),

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Container })]
    [string]$WheelHouse,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string]$XmlSec1,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string]$WacsPath,

    [ValidatePattern('^[^@\s]+@[^@\s]+\.[^@\s]+$')]
    [string]$AcmeEmail,

    [ValidatePattern('^https://\S+$')]
    [string]$AcmeBaseUri,

    [ValidatePattern('^$|^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$')]
    [string]$SmtpHost,

    [ValidateRange(1, 65535)]
    [int]$SmtpPort,

    [ValidateSet('true', 'false')]
    [string]$SmtpStartTls,

    [ValidatePattern('^\S{1,256}$')]
    [string]$SmtpUser,

    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Leaf })]
    [string]$SmtpPasswordFile,

    [ValidatePattern('^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\).+$')]
    [string]$TurnConfig,

    [ValidatePattern('^[A-Za-z0-9_.-]{1,80}$')]
    [string]$TurnService,

    [switch]$NoProvisioningTask,

    [switch]$NoBackchannelTask,

    [ValidatePattern('^(?=.{1,254}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\.?$')]
    [string]$SignupHostName,

    [ValidatePattern('^(?=.{1,254}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\.?$')]
    [string]$ParentDomain,

    [ValidatePattern('^$|^https://\S+$')]
    [string]$TermsUrl,

    [switch]$SelfSigned,

    [ValidateSet('WfastCgi', 'HttpPlatform')]
    [string]$Hosting = 'WfastCgi'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force

Assert-CodebAdministrator
$layout = Get-CodebLayout -Root $Root
$restartNeeded = $false
$signupSite = $null
$hostSite = Get-CodebHostSitePath -Layout $layout
if ($SignupHostName -and -not $ParentDomain) {
    throw '-SignupHostName needs -ParentDomain: the domain the sign-up page makes tenants under.'
}
$bound = $PSBoundParameters  # inside Where-Object's script block $PSBoundParameters would be its own
$signupOptions = @('ParentDomain', 'TermsUrl', 'SelfSigned', 'Hosting') | Where-Object { $bound.ContainsKey($_) }
if (-not $SignupHostName -and $signupOptions) {
    throw "-$(@($signupOptions)[0]) is an option of the sign-up site: give -SignupHostName too."
}

# --- Windows features: IIS with FastCGI, its management tools, the SMTP service.
if (-not (Get-Command -Name Install-WindowsFeature -ErrorAction SilentlyContinue)) {
    throw 'Install-WindowsFeature is missing: CodeB hosts run Windows Server 2016 or later.'
}
$features = @(
    'Web-Server', 'Web-WebServer', 'Web-Common-Http', 'Web-Default-Doc', 'Web-Static-Content',
    'Web-Http-Errors', 'Web-Health', 'Web-Http-Logging', 'Web-Request-Monitor',
    'Web-Performance', 'Web-Stat-Compression', 'Web-Security', 'Web-Filtering',
    'Web-App-Dev', 'Web-CGI', 'Web-Mgmt-Tools', 'Web-Mgmt-Console', 'Web-Scripting-Tools',
    'SMTP-Server'
)
$missing = @(Get-WindowsFeature -Name $features | Where-Object { -not $_.Installed } | ForEach-Object { $_.Name })
if ($missing.Count -gt 0 -and $PSCmdlet.ShouldProcess($missing -join ', ', 'Install Windows features')) {
    $result = Install-WindowsFeature -Name $missing -IncludeManagementTools
    if (-not $result.Success) {
        throw "Installing Windows features failed: $($missing -join ', ')."
    }
    if ("$($result.RestartNeeded)" -eq 'Yes') {
        $restartNeeded = $true
    }
}
$iisReady = $null -ne (Get-Module -ListAvailable -Name IISAdministration)
if ($iisReady) {
    Import-Module IISAdministration
}
elseif (-not $WhatIfPreference) {
    throw 'The IISAdministration module is missing although IIS is installed; restart Windows and run this script again.'
}

# --- SMTP: the service runs, Pickup exists, and so does the staging folder beside it.
if ($PSCmdlet.ShouldProcess('SMTPSVC', 'Start the SMTP service and start it automatically from now on')) {
    Set-Service -Name SMTPSVC -StartupType Automatic -Confirm:$false
    Start-Service -Name SMTPSVC -Confirm:$false
}
if ($PSCmdlet.ShouldProcess("$($layout.Pickup), $($layout.Staging)", 'Create the mail folders')) {
    $null = New-Item -ItemType Directory -Path $layout.Pickup -Force -Confirm:$false
    $null = New-Item -ItemType Directory -Path $layout.Staging -Force -Confirm:$false
    # Each tenant's pool gets the right to create files here (New-CodebTenant.ps1);
    # a staged message is readable only by the pool that wrote it.
    $null = Set-CodebFolderAcl -Path $layout.Staging -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid CreatorOwner) -Rights Modify -Scope ChildrenOnly)
    )
}

# --- Python 3.11.
$python = Get-CodebPython -Path $PythonPath
Write-Verbose "Using Python 3.11 at $python"

# --- The release in <Root>\app; <Root>\sites readable by administrators only.
if ($PSCmdlet.ShouldProcess($layout.Root, 'Create the installation folders and restrict their permissions')) {
    foreach ($folder in @($layout.Root, $layout.App, $layout.Sites, $layout.Data, $layout.Secrets)) {
        $null = New-Item -ItemType Directory -Path $folder -Force -Confirm:$false
    }
    # IIS_IUSRS (every application pool) may read the release and the venv;
    # each tenant's site folder gets its own permissions in New-CodebTenant.ps1.
    $system = New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl
    $administrators = New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl
    $null = Set-CodebFolderAcl -Path $layout.Root -Rule @(
        $system,
        $administrators,
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid IisUsers) -Rights ReadAndExecute)
    )
    $null = Set-CodebFolderAcl -Path $layout.Sites -Rule @($system, $administrators)
    # The host's data root: the worker (SYSTEM) makes tenants here, each folder then
    # given to its own pool only (Set-CodebTenantDataAcl); the sign-up site's pool, once
    # it exists, may list this folder and nothing below (Set-CodebHostDataAcl).
    $null = Set-CodebHostDataAcl -Layout $layout
    $null = Set-CodebFolderAcl -Path $layout.Secrets -Rule @(
        $system,
        $administrators,
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid IisUsers) -Rights ReadAndExecute)
    )
}

# --- The host's settings: what is given now, what was saved before otherwise.
$hostSettings = Get-CodebHostSetting -Layout $layout
# host.json key <- the parameter that sets it.
$settingParameters = @(
    @('Acme', 'Wacs', 'WacsPath'), @('Acme', 'Email', 'AcmeEmail'), @('Acme', 'BaseUri', 'AcmeBaseUri'),
    @('Smtp', 'Host', 'SmtpHost'), @('Smtp', 'Port', 'SmtpPort'), @('Smtp', 'StartTls', 'SmtpStartTls'),
    @('Smtp', 'User', 'SmtpUser'), @('Turn', 'Config', 'TurnConfig'), @('Turn', 'Service', 'TurnService')
)
foreach ($entry in $settingParameters) {
    if ($PSBoundParameters.ContainsKey($entry[2])) {
        $hostSettings[$entry[0]][$entry[1]] = Get-Variable -Name $entry[2] -ValueOnly
    }
}
if ($WacsPath) {
    $hostSettings.Acme.Wacs = (Resolve-Path -LiteralPath $WacsPath).ProviderPath
}
if ($SmtpPasswordFile -and $PSCmdlet.ShouldProcess($layout.Secrets, 'Copy the SMTP smarthost password file')) {
    $passwordCopy = Join-Path $layout.Secrets 'smtp-password.txt'
    $null = Write-CodebTextFile -Path $passwordCopy -Content ([System.IO.File]::ReadAllText((Resolve-Path -LiteralPath $SmtpPasswordFile).ProviderPath))
    $hostSettings.Smtp.PasswordFile = $passwordCopy
}
if ($PSBoundParameters.ContainsKey('SmtpHost') -and -not $SmtpHost) {
    $hostSettings.Smtp = @{}  # back to the Pickup folder
}
if ($hostSettings.Smtp['User'] -and -not $hostSettings.Smtp['PasswordFile'] -and -not $WhatIfPreference) {
    # codeb/notify/mail.py would refuse every mail: say so now, not at the first sign-up.
    throw '-SmtpUser needs -SmtpPasswordFile: the smarthost password is read from a file.'
}
if ($PSCmdlet.ShouldProcess($layout.HostSettings, 'Save the host settings (ACME client, SMTP smarthost, TURN server)')) {
    $null = Set-CodebHostSetting -Layout $layout -Setting $hostSettings
}

$sourceFull = (Resolve-Path -LiteralPath $Source).ProviderPath.TrimEnd('\')
if ($sourceFull -ne $layout.App -and $PSCmdlet.ShouldProcess($layout.App, "Install the release from $sourceFull")) {
    $null = Invoke-CodebRobocopy -Source $sourceFull -Destination $layout.App `
        -ExcludeDirectory @('.git', '.venv', '.ci', 'App_Data', 'tests', 'node_modules', '__pycache__', '.pytest_cache') `
        -ExcludeFile @('*.pyc')
}

# --- The shared virtual environment.
$requirements = Join-Path $layout.App 'requirements.txt'
if ($PSCmdlet.ShouldProcess($layout.Venv, "Create the virtual environment and install $requirements")) {
    if (Test-Path -LiteralPath $layout.Python -PathType Leaf) {
        $venvVersion = Get-CodebPythonVersion -Path $layout.Python
        if ($venvVersion -ne '3.11') {
            throw "The virtual environment '$($layout.Venv)' runs Python $venvVersion; delete it and run this script again."
        }
    }
    else {
        Invoke-CodebNative -FilePath $python -ArgumentList @('-m', 'venv', $layout.Venv)
    }

    $pipArguments = @('-m', 'pip', 'install', '--disable-pip-version-check', '--upgrade', '--requirement', $requirements)
    if ($WheelHouse) {
        $pipArguments += @('--no-index', '--find-links', $WheelHouse)
    }
    Invoke-CodebNative -FilePath $layout.Python -ArgumentList $pipArguments
    if (-not (Test-Path -LiteralPath $layout.WfastcgiScript -PathType Leaf)) {
        throw "'$($layout.WfastcgiScript)' is missing after pip install: requirements.txt must list wfastcgi for Windows."
    }

    # The pools may not write into the release, so compile it now once.
    Invoke-CodebNative -FilePath $layout.Python -ArgumentList @('-m', 'compileall', '-q', (Join-Path $layout.App 'codeb'))
}

# --- xmlsec1 for SAML company sign-in: the pools find it through CODEB_XMLSEC1.
if ($XmlSec1) {
    $xmlsecFull = (Resolve-Path -LiteralPath $XmlSec1).ProviderPath
    if ($PSCmdlet.ShouldProcess('CODEB_XMLSEC1', "Set the machine environment variable to $xmlsecFull")) {
        [Environment]::SetEnvironmentVariable('CODEB_XMLSEC1', $xmlsecFull, 'Machine')
    }
}
elseif (-not [Environment]::GetEnvironmentVariable('CODEB_XMLSEC1', 'Machine') -and
        -not (Get-Command -Name xmlsec1.exe -ErrorAction SilentlyContinue)) {
    Write-Warning 'xmlsec1.exe was not found: SAML company sign-in needs it (-XmlSec1 C:\path\to\xmlsec1.exe).'
}

# --- IIS: sites may declare their handler; the venv's wfastcgi is a FastCGI application.
if ($iisReady) {
    $appcmd = Join-Path $env:windir 'System32\inetsrv\appcmd.exe'
    if ($PSCmdlet.ShouldProcess('system.webServer/handlers', 'Allow web.config files to declare handlers')) {
        Invoke-CodebNative -FilePath $appcmd -ArgumentList @('unlock', 'config', '-section:system.webServer/handlers')
    }
    if (-not (Test-CodebFastCgiApplication -Layout $layout) -and
        $PSCmdlet.ShouldProcess($layout.ScriptProcessor, 'Register the FastCGI application (wfastcgi-enable)')) {
        Invoke-CodebNative -FilePath (Join-Path $layout.Venv 'Scripts\wfastcgi-enable.exe')
        if (-not (Test-CodebFastCgiApplication -Layout $layout)) {
            throw "wfastcgi-enable did not register '$($layout.ScriptProcessor)' with IIS."
        }
    }

    # web.config redirects HTTP to HTTPS with URL Rewrite; without the module IIS refuses the sites (500.19).
    if (-not (Test-CodebRewriteModule)) {
        throw 'IIS has no URL Rewrite module: install URL Rewrite 2.1 from Microsoft, then run this script again.'
    }

    # The host's own site, the sign-up page: pool and site codeb-host, ACLs, certificate, host set.
    if ($SignupHostName) {
        if ($WhatIfPreference -and -not (Test-Path -LiteralPath $layout.Python -PathType Leaf)) {
            Write-Warning 'The release and its venv are not installed yet, so the sign-up site steps were not previewed.'
        }
        else {
            $siteOptions = @{ Layout = $layout; HostName = $SignupHostName; ParentDomain = $ParentDomain; Hosting = $Hosting }
            if ($PSBoundParameters.ContainsKey('TermsUrl')) {
                $siteOptions['TermsUrl'] = $TermsUrl
            }
            $signupSite = Install-CodebHostSite @siteOptions -SelfSigned:$SelfSigned -WhatIf:$WhatIfPreference `
                -Confirm:($ConfirmPreference -eq 'Low')
        }
    }

    # Existing tenants (and the sign-up site) pick up the new release.
    $pools = @(Get-CodebSiteFolder -Layout $layout | ForEach-Object { (Get-CodebTenantPath -Name $_.Name -Root $layout.Root).PoolName })
    foreach ($poolName in @($pools + $hostSite.PoolName)) {
        if ((Test-CodebAppPool -Name $poolName) -and $PSCmdlet.ShouldProcess($poolName, 'Recycle the application pool')) {
            $null = (Get-IISAppPool -Name $poolName).Recycle()
        }
    }

    # The provisioning worker: every minute, as SYSTEM, one run at a time.
    $workerScript = Join-Path $layout.App 'deploy\Invoke-CodebProvisioning.ps1'
    if (-not $NoProvisioningTask -and
        $PSCmdlet.ShouldProcess('\CodeB\CodeB provisioning', "Register the scheduled task running $workerScript every minute")) {
        $null = Register-CodebProvisioningTask -Script $workerScript -Root $layout.Root
    }

    # The back-channel logout retries a recycled or idle site left waiting: every 5 minutes, as SYSTEM.
    $backchannelScript = Join-Path $layout.App 'deploy\Invoke-CodebBackchannel.ps1'
    if (-not $NoBackchannelTask -and
        $PSCmdlet.ShouldProcess('\CodeB\CodeB back-channel logout', "Register the scheduled task running $backchannelScript every 5 minutes")) {
        $null = Register-CodebBackchannelTask -Script $backchannelScript -Root $layout.Root
    }
}
else {
    Write-Warning 'IIS is not installed yet, so its configuration steps were not previewed.'
}

if ($restartNeeded) {
    Write-Warning 'Windows asks for a restart to finish installing features: restart before creating tenants.'
}

[pscustomobject]@{
    Root            = $layout.Root
    Release         = $layout.App
    Python          = $python
    Venv            = $layout.Venv
    ScriptProcessor = $layout.ScriptProcessor
    Pickup          = $layout.Pickup
    Staging         = $layout.Staging
    Data            = $layout.Data
    HostSettings    = $layout.HostSettings
    SignupSite      = $signupSite
    RestartNeeded   = $restartNeeded
}
