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

    Every step checks what is already there, so running the script again with a
    newer release upgrades the host: the release and the packages are refreshed
    and the application pools of existing tenant sites are recycled.

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

.EXAMPLE
    .\Initialize-CodebHost.ps1

    Prepares the host with the defaults: C:\CodeB and the installed Python 3.11.

.EXAMPLE
    .\Initialize-CodebHost.ps1 -Root D:\CodeB -PythonPath 'C:\Program Files\Python311\python.exe' -WheelHouse D:\wheels

    Installs into D:\CodeB without reaching PyPI.

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
    [string]$XmlSec1
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force

Assert-CodebAdministrator
$layout = Get-CodebLayout -Root $Root
$restartNeeded = $false

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
    Set-CodebFolderAcl -Path $layout.Staging -Rule @(
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
    foreach ($folder in @($layout.Root, $layout.App, $layout.Sites)) {
        $null = New-Item -ItemType Directory -Path $folder -Force -Confirm:$false
    }
    # IIS_IUSRS (every application pool) may read the release and the venv;
    # each tenant's site folder gets its own permissions in New-CodebTenant.ps1.
    $system = New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl
    $administrators = New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl
    Set-CodebFolderAcl -Path $layout.Root -Rule @(
        $system,
        $administrators,
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid IisUsers) -Rights ReadAndExecute)
    )
    Set-CodebFolderAcl -Path $layout.Sites -Rule @($system, $administrators)
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

    # Existing tenants pick up the new release.
    foreach ($site in @(Get-CodebSiteFolder -Layout $layout)) {
        if ((Test-CodebAppPool -Name $site.Name) -and $PSCmdlet.ShouldProcess($site.Name, 'Recycle the application pool')) {
            $null = (Get-IISAppPool -Name $site.Name).Recycle()
        }
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
    RestartNeeded   = $restartNeeded
}
