#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Remove a CodeB tenant's IIS site, bindings and application pool; keep its data unless told otherwise.

.DESCRIPTION
    Stops the tenant's application pool, takes back its access to the mail
    folders, removes the IIS site with its HTTPS bindings (in HTTP.sys too),
    the application pool, the site's links to the release and its web.config,
    and the self-signed certificate New-CodebTenant.ps1 -SelfSigned made for it.

    The tenant's data, App_Data\<Name>, stays where it was: back it up, move it,
    or serve it again with New-CodebTenant.ps1 -AdoptExistingData. With
    -RemoveData the whole site folder, data included, is deleted: users, keys,
    audit log, everything. Take a backup first (Backup-CodebTenant.ps1).

    Asks for confirmation unless -Confirm:$false is given.

.PARAMETER Name
    The tenant name.

.PARAMETER KeepData
    Keep App_Data\<Name> (the default; the switch only says so explicitly).

.PARAMETER RemoveData
    Delete the tenant's site folder with all its data as well.

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\Remove-CodebTenant.ps1 -Name acme

    Removes the site and pool of tenant acme after confirmation; its data stays.

.EXAMPLE
    .\Remove-CodebTenant.ps1 -Name acme -RemoveData -Confirm:$false

    Removes tenant acme and deletes its data without asking.
#>
[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High', DefaultParameterSetName = 'KeepData')]
param(
    [Parameter(Mandatory, Position = 0)]
    [ValidatePattern('^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$', Options = 'None')]
    [string]$Name,

    [Parameter(ParameterSetName = 'KeepData')]
    [switch]$KeepData,

    [Parameter(Mandatory, ParameterSetName = 'RemoveData')]
    [switch]$RemoveData,

    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force
Import-Module IISAdministration

Assert-CodebAdministrator
Assert-CodebTenantName -Name $Name
$paths = Get-CodebTenantPath -Name $Name -Root $Root
$layout = $paths.Layout

$siteExists = Test-CodebSite -Name $paths.SiteName
$poolExists = Test-CodebAppPool -Name $paths.PoolName
$folderExists = Test-Path -LiteralPath $paths.SiteFolder -PathType Container
if (-not ($siteExists -or $poolExists -or $folderExists)) {
    Write-Warning "There is no tenant '$Name' on this host (no site, application pool or folder)."
    return
}
$hosts = @(Get-CodebSiteHostName -Name $paths.SiteName)

$removedSite = $false
$what = "IIS site '$($paths.SiteName)' ($($hosts -join ', ')), its bindings and application pool"
if ($PSCmdlet.ShouldProcess($what, 'Remove')) {
    if ($poolExists) {
        # No process may hold a file of the tenant while the site goes away.
        $null = Stop-CodebAppPool -Name $paths.PoolName
        Revoke-CodebMailAccess -Layout $layout -PoolSid (Get-CodebPoolSid -PoolName $paths.PoolName)
    }
    Remove-CodebSite -Name $paths.SiteName
    Remove-CodebAppPool -Name $paths.PoolName
    if ($folderExists) {
        Remove-CodebSiteCode -SiteFolder $paths.SiteFolder
    }

    $selfSignedName = Get-CodebSelfSignedName -Tenant $Name
    Get-ChildItem -Path 'Cert:\LocalMachine\My' |
        Where-Object { $_.FriendlyName -eq $selfSignedName -and $_.Subject -eq $_.Issuer } |
        Remove-Item -Confirm:$false
    $removedSite = $true
}

$removedData = $false
if ($RemoveData -and $folderExists -and
    $PSCmdlet.ShouldProcess($paths.SiteFolder, "Delete all data of tenant '$Name' (users, keys, audit log)")) {
    Remove-CodebTree -Path $paths.SiteFolder
    $removedData = $true
}
elseif ($folderExists -and -not $RemoveData) {
    Write-Verbose "The data of tenant '$Name' stays in $($paths.TenantData)."
}

$dataLeft = $null
if (-not $removedData -and $folderExists) {
    $dataLeft = $paths.TenantData
}
[pscustomobject]@{
    Tenant      = $Name
    SiteRemoved = $removedSite
    HostName    = $hosts
    DataRemoved = $removedData
    Data        = $dataLeft
}
