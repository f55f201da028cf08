#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Restore one CodeB tenant's data folder from a backup made by Backup-CodebTenant.ps1.

.DESCRIPTION
    Copies the backup (robocopy /MIR) next to the live data first, while the
    site keeps serving. Then it stops the tenant's application pool, renames
    the live App_Data\<Name> to App_Data\.replaced-<Name>-<timestamp>, renames
    the copy into its place, gives the pool its write access again, makes the
    data root's host index again from the tenants' settings (python -m codeb
    tenant reindex: the restored tenant's host names point at it), and starts
    the pool. A failed copy leaves the live data untouched; a failed rename
    puts the old data back.

    The replaced data is kept (the site never serves it, and a dotted name is
    never a tenant): delete it once the restored tenant works.

    The tenant's site must exist on this host. To recover a tenant on a new
    host, create it first with New-CodebTenant.ps1 (same name and host names),
    then restore it.

    Asks for confirmation unless -Confirm:$false is given.

.PARAMETER Name
    The tenant name.

.PARAMETER Path
    One backup folder, such as D:\backups\acme\20250101T020000Z.

.PARAMETER BackupRoot
    The folder given to Backup-CodebTenant.ps1 as -Destination; the newest
    complete backup of the tenant in it is restored.

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\Restore-CodebTenant.ps1 -Name acme -BackupRoot D:\backups

    Restores the newest backup of acme in D:\backups\acme.

.EXAMPLE
    .\Restore-CodebTenant.ps1 -Name acme -Path D:\backups\acme\20250101T020000Z -Confirm:$false

    Restores that backup without asking.
#>
[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High', DefaultParameterSetName = 'Path')]
param(
    [Parameter(Mandatory, Position = 0)]
    [ValidatePattern('^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$', Options = 'None')]
    [string]$Name,

    [Parameter(Mandatory, Position = 1, ParameterSetName = 'Path')]
    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Container })]
    [string]$Path,

    [Parameter(Mandatory, ParameterSetName = 'Newest')]
    [ValidateScript({ Test-Path -LiteralPath $_ -PathType Container })]
    [string]$BackupRoot,

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

# --- Which backup, and is it one of this tenant?
if ($PSCmdlet.ParameterSetName -eq 'Newest') {
    $tenantBackups = Join-Path $BackupRoot $Name
    $newest = Get-ChildItem -LiteralPath $tenantBackups -Directory -ErrorAction SilentlyContinue |
        Where-Object { $_.Name -cmatch '^\d{8}T\d{6}Z$' } |
        Sort-Object -Property Name -Descending |
        Select-Object -First 1
    if ($null -eq $newest) {
        throw "There is no complete backup of tenant '$Name' in '$tenantBackups'."
    }
    $backup = $newest.FullName
}
else {
    $backup = (Resolve-Path -LiteralPath $Path).ProviderPath
}

$backupTenantFile = Join-Path $backup 'tenant.json'
if (-not (Test-Path -LiteralPath $backupTenantFile -PathType Leaf)) {
    throw "'$backup' is not a tenant backup: it has no tenant.json."
}
$settings = Get-Content -LiteralPath $backupTenantFile -Raw -Encoding UTF8 | ConvertFrom-Json
$nameProperty = $settings.PSObject.Properties['name']
if ($null -ne $nameProperty -and $nameProperty.Value -cne $Name) {
    throw "'$backup' is a backup of tenant '$($nameProperty.Value)', not of '$Name'."
}

# --- The tenant's site must exist here: its pool is who may write the data.
if (-not (Test-CodebAppPool -Name $paths.PoolName) -or -not (Test-Path -LiteralPath $paths.DataRoot -PathType Container)) {
    throw "Tenant '$Name' does not exist on this host: create it with New-CodebTenant.ps1 first, then restore."
}
$poolSid = Get-CodebPoolSid -PoolName $paths.PoolName

if (-not $PSCmdlet.ShouldProcess($paths.TenantData, "Replace the data of tenant '$Name' with the backup $backup")) {
    return
}

$stamp = [DateTime]::UtcNow.ToString('yyyyMMdd\THHmmss\Z')
$incoming = Join-Path $paths.DataRoot ".restore-$Name-$stamp"
$replaced = Join-Path $paths.DataRoot ".replaced-$Name-$stamp"

# Copy first, while the site still serves the old data.
try {
    $null = Invoke-CodebRobocopy -Source $backup -Destination $incoming -ExcludeDirectory @('.locks') -ExcludeFile @('*.tmp')
}
catch {
    $failure = $_
    Remove-CodebTree -Path $incoming
    throw $failure
}

$restart = Stop-CodebAppPool -Name $paths.PoolName
$oldMoved = $false
try {
    if (Test-Path -LiteralPath $paths.TenantData) {
        Move-CodebFolder -Path $paths.TenantData -Destination $replaced
        $oldMoved = $true
    }
    try {
        Move-CodebFolder -Path $incoming -Destination $paths.TenantData
    }
    catch {
        $failure = $_
        if ($oldMoved) {
            Move-CodebFolder -Path $replaced -Destination $paths.TenantData
            $oldMoved = $false
        }
        throw $failure
    }
    $null = Set-CodebTenantDataAcl -Paths $paths -PoolSid $poolSid
    # The host index lives outside the tenant folder: make it again from every tenant's settings.
    $reindexed = Invoke-CodebPython -Layout $paths.Layout -DataRoot $paths.DataRoot -ArgumentList @('tenant', 'reindex')
    Write-Verbose "python -m codeb tenant reindex: $($reindexed -replace '\s+', ' ')"
}
finally {
    if ($restart) {
        Start-CodebAppPool -Name $paths.PoolName
    }
}

$replacedPath = $null
if ($oldMoved) {
    $replacedPath = $replaced
    Write-Verbose "The replaced data is in $replaced; delete it once the restored tenant works."
}
[pscustomobject]@{
    Tenant       = $Name
    RestoredFrom = $backup
    Data         = $paths.TenantData
    Replaced     = $replacedPath
}
