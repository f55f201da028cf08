#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Back up one CodeB tenant: a copy of its data folder, App_Data\<Name>.

.DESCRIPTION
    Everything a tenant has lives in App_Data\<Name>, so a backup is one folder
    copy (robocopy /MIR) into <Destination>\<Name>\<UTC timestamp>. The copy is
    made under <timestamp>.partial and renamed when complete, so a folder
    without that suffix is always a whole backup.

    By default the tenant's application pool is stopped for the copy and
    started again right after it (requests get 503 meanwhile), so the backup
    is one consistent moment. With -Online the site keeps serving: every
    document is written atomically, so each file in the backup is whole, but
    two related documents may come from moments a few milliseconds apart.

    Backups hold the tenant's signing keys: <Destination>\<Name> is made
    readable by SYSTEM and Administrators only.

.PARAMETER Name
    The tenant name.

.PARAMETER Destination
    The backup folder, such as D:\backups or \\nas\codeb-backups.

.PARAMETER Online
    Do not stop the application pool.

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\Backup-CodebTenant.ps1 -Name acme -Destination D:\backups

    Stops acme's pool, copies App_Data\acme to D:\backups\acme\20250101T020000Z,
    and starts the pool again.

.EXAMPLE
    .\Backup-CodebTenant.ps1 -Name acme -Destination \\nas\codeb-backups -Online

    Backs up tenant acme while it keeps serving.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory, Position = 0)]
    [ValidatePattern('^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$', Options = 'None')]
    [string]$Name,

    [Parameter(Mandatory, Position = 1)]
    [ValidatePattern('^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)')]
    [string]$Destination,

    [switch]$Online,

    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force
Import-Module IISAdministration

Assert-CodebAdministrator
Assert-CodebTenantName -Name $Name
$paths = Resolve-CodebTenantPath -Name $Name -Root $Root
if (-not (Test-Path -LiteralPath $paths.TenantFile -PathType Leaf)) {
    throw "There is no tenant data in '$($paths.TenantData)'."
}

$tenantBackups = Join-Path $Destination $Name
$stamp = [DateTime]::UtcNow.ToString('yyyyMMdd\THHmmss\Z')
$target = Join-Path $tenantBackups $stamp
$partial = "$target.partial"
if (Test-Path -LiteralPath $target) {
    throw "'$target' already exists."
}

if (-not $PSCmdlet.ShouldProcess($paths.TenantData, "Back up to $target")) {
    return
}

$null = New-Item -ItemType Directory -Path $tenantBackups -Force -Confirm:$false
try {
    $null = Set-CodebFolderAcl -Path $tenantBackups -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl)
    )
}
catch {
    Write-Warning "Could not restrict the permissions of '$tenantBackups' ($($_.Exception.Message)). The backup holds the tenant's signing keys: secure that folder."
}

$started = Get-Date
$restart = $false
if (-not $Online -and (Test-CodebAppPool -Name $paths.PoolName)) {
    $restart = Stop-CodebAppPool -Name $paths.PoolName
}
try {
    # Lock files and half-written temporary files are not part of the data.
    # Online, a transient record can expire between listing and copying: try again.
    $attempts = if ($Online) { 3 } else { 1 }
    for ($attempt = 1; $attempt -le $attempts; $attempt++) {
        try {
            $null = Invoke-CodebRobocopy -Source $paths.TenantData -Destination $partial -ExcludeDirectory @('.locks') -ExcludeFile @('*.tmp')
            break
        }
        catch {
            if ($attempt -eq $attempts) {
                throw
            }
            Write-Verbose "Copy attempt $attempt failed: $($_.Exception.Message)"
        }
    }
}
finally {
    if ($restart) {
        Start-CodebAppPool -Name $paths.PoolName
    }
}
Move-CodebFolder -Path $partial -Destination $target

$files = @(Get-ChildItem -LiteralPath $target -Recurse -File -Force)
[pscustomobject]@{
    Tenant   = $Name
    Path     = $target
    Online   = [bool]$Online
    Started  = $started
    Finished = Get-Date
    Files    = $files.Count
    Bytes    = [long]($files | Measure-Object -Property Length -Sum).Sum
}
