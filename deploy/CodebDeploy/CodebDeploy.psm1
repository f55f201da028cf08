<#
.SYNOPSIS
    Shared helpers of the CodeB deployment scripts.

.DESCRIPTION
    Names and paths of a CodeB host and its tenants, folder ACLs, the IIS
    application pool and site of a tenant, TLS certificates, and running
    native tools (python, robocopy) with a checked exit code.

    The scripts in deploy\ import this module through its manifest,
    CodebDeploy.psd1, which exports the functions they call; the other
    functions are the module's own. The functions hold no state of their own.
    Functions that change the machine do not ask for confirmation themselves:
    the calling script decides with ShouldProcess.

    This file holds what every part shares (strict mode, the names and paths
    below) and dot-sources one file per concern:

        Names.ps1          tenant and host names, the host layout and tenant paths,
                           and whether this session and this host are ready
        Native.ps1         native programs with a checked exit code, robocopy
        Folders.ps1        deleting a tree without following links, moving a folder
        Acl.ps1            SIDs, access rules, the ACLs of site and data folders
        Mail.ps1           a pool's access to the mail staging and Pickup folders
        Python.ps1         Python 3.11 and the FastCGI application
        Certificates.ps1   TLS certificates in Cert:\LocalMachine\My
        AppPools.ps1       a tenant's IIS application pool
        Sites.ps1          site code links, web.config, the IIS site and its bindings
        Acme.ps1           a tenant's certificate: ACME (win-acme) or self-signed, as the plan says
        Turn.ps1           the tenants' TURN secrets where the host's coturn reads them
        Provisioning.ps1   the worker's side of python -m codeb provision: plan, report, DNS check
        Tasks.ps1          the scheduled tasks: the provisioning worker, back-channel logout
        HostSite.ps1       the host's own site codeb-host (the sign-up page): pool, site,
                           web.config without CODEB_TENANT, least-privilege ACLs, certificate

    Host layout (the root is C:\CodeB unless a script is given -Root):

        <root>\app                  the release: app.py, codeb\, templates\, static\, web.config
        <root>\venv                 the shared Python 3.11 virtual environment (wfastcgi lives here)
        <root>\sites\<tenant>       one IIS site: web.config, links to the release, App_Data\<tenant>
        <root>\sites\_host          the host's own site (the sign-up page): web.config, links to the release

        <root>\App_Data             the host's data root: its _host\ (the sign-up spool, the
                                    host index) and the tenants the provisioning worker makes
        <root>\host.json            the host's settings (ACME client, SMTP smarthost, TURN server)
        <root>\turn                 what the host's coturn reads (Turn.ps1)

    A tenant's site and application pool are both named codeb-<tenant>, the rule
    of codeb/provisioning/plan.py; the host's own site and its pool are codeb-host.
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
# Same path as codeb/notify/mail.py (WINDOWS_PICKUP, staging_folder).
$script:MailRoot = 'C:\inetpub\mailroot'

$script:CertificateStore = 'Cert:\LocalMachine\My'

# A tenant's application pool and site: codeb-<tenant>. Same rule as
# codeb/provisioning/plan.py (POOL_PREFIX). IIS takes pool names of up to 64 characters.
$script:PoolPrefix = 'codeb-'
$script:MaxPoolName = 64

# The host's own site (the sign-up page, codeb.provisioning.site) and its application pool,
# its folder under <root>\sites and its data folder under <root>\App_Data (both _host: no
# tenant name starts with an underscore), and the name its certificates are made under.
$script:HostSiteName = 'codeb-host'
$script:HostFolderName = '_host'
$script:HostCertificateName = 'host'

# The URL Rewrite rule of web.config that sends HTTP to HTTPS, and the one path
# it leaves alone: ACME HTTP-01 challenges (RFC 8555 section 8.3), served by IIS as files.
$script:RedirectRuleName = 'CodeB-HTTPS'
$script:AcmeChallengePath = '.well-known/acme-challenge'

# The scheduled task that runs deploy\Invoke-CodebProvisioning.ps1.
$script:ProvisioningTaskName = 'CodeB provisioning'
$script:ProvisioningTaskPath = '\CodeB\'

# The scheduled task that runs deploy\Invoke-CodebBackchannel.ps1 (back-channel logout deliveries).
$script:BackchannelTaskName = 'CodeB back-channel logout'
$script:BackchannelTaskPath = '\CodeB\'

# The functions, each defined in exactly one of these files. They run in this
# module's scope, so the settings and names above hold for all of them.
. (Join-Path $PSScriptRoot 'Names.ps1')
. (Join-Path $PSScriptRoot 'Native.ps1')
. (Join-Path $PSScriptRoot 'Folders.ps1')
. (Join-Path $PSScriptRoot 'Acl.ps1')
. (Join-Path $PSScriptRoot 'Mail.ps1')
. (Join-Path $PSScriptRoot 'Python.ps1')
. (Join-Path $PSScriptRoot 'Certificates.ps1')
. (Join-Path $PSScriptRoot 'AppPools.ps1')
. (Join-Path $PSScriptRoot 'Sites.ps1')
. (Join-Path $PSScriptRoot 'Acme.ps1')
. (Join-Path $PSScriptRoot 'Turn.ps1')
. (Join-Path $PSScriptRoot 'Provisioning.ps1')
. (Join-Path $PSScriptRoot 'Tasks.ps1')
. (Join-Path $PSScriptRoot 'HostSite.ps1')

# What the scripts may call is FunctionsToExport in CodebDeploy.psd1, the one
# list of exports; the scripts import the manifest, never this file.
