#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Remove a CodeB tenant's IIS site, bindings, application pool and certificate; with -RemoveData, export and delete its data too.

.DESCRIPTION
    Stops the tenant's application pool codeb-<Name>, takes back its access to the
    mail folders, removes the IIS site codeb-<Name> with its HTTPS and HTTP
    bindings (in HTTP.sys too), the application pool, the site's links to the
    release and its web.config, the tenant's lines in the TURN server's
    configuration, and its certificate: the self-signed one, or the ACME one
    with its win-acme renewal, each only if no other site's binding uses it.

    The tenant's data, App_Data\<Name>, stays where it was unless -RemoveData is
    given: back it up, move it, or serve it again with New-CodebTenant.ps1
    -AdoptExistingData. With -RemoveData the data goes too, exported first:
    python -m codeb tenant remove <Name> --export <ExportPath> --yes writes the
    whole tenant folder into one zip and only then removes the folder and the
    tenant's entries in the host index; a failed export removes nothing. The
    site folder is deleted after that.

    Asks for confirmation (ConfirmImpact High) unless -Confirm:$false is given.

.PARAMETER Name
    The tenant name.

.PARAMETER KeepData
    Keep App_Data\<Name> (the default; the switch only says so explicitly).

.PARAMETER RemoveData
    Export the tenant's data to -ExportPath, then delete it with the site folder.

.PARAMETER ExportPath
    The zip file the tenant's data is exported to before it is deleted (it must not exist yet).

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\Remove-CodebTenant.ps1 -Name acme

    Removes the site, pool and certificate of tenant acme after confirmation; its data stays.

.EXAMPLE
    .\Remove-CodebTenant.ps1 -Name acme -RemoveData -ExportPath D:\exports\acme.zip -Confirm:$false

    Exports tenant acme to D:\exports\acme.zip, then removes it and its data without asking.
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

    [Parameter(Mandatory, ParameterSetName = 'RemoveData')]
    [ValidatePattern('^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\).+\.zip$')]
    [ValidateScript({ -not (Test-Path -LiteralPath $_) })]
    [string]$ExportPath,

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
$layout = $paths.Layout
$hostSettings = Get-CodebHostSetting -Layout $layout

$siteExists = Test-CodebSite -Name $paths.SiteName
$poolExists = Test-CodebAppPool -Name $paths.PoolName
$folderExists = Test-Path -LiteralPath $paths.SiteFolder -PathType Container
$dataExists = Test-Path -LiteralPath $paths.TenantFile -PathType Leaf
if (-not ($siteExists -or $poolExists -or $folderExists -or $dataExists)) {
    Write-Warning "There is no tenant '$Name' on this host (no site, application pool, folder or data)."
    return
}
$hosts = @(Get-CodebSiteHostName -Name $paths.SiteName)
$thumbprints = @(Get-CodebSiteCertificate -Name $paths.SiteName)

# --- With -RemoveData: the export comes first; if it fails, nothing is removed.
$exported = $null
if ($RemoveData -and $dataExists -and
    $PSCmdlet.ShouldProcess($paths.TenantData, "Export tenant '$Name' to $ExportPath, then delete its data (users, keys, audit log)")) {
    $removal = Invoke-CodebPython -Layout $layout -DataRoot $paths.DataRoot -ArgumentList @(
        'tenant', 'remove', $Name, '--export', $ExportPath, '--yes') | ConvertFrom-Json
    if (-not $removal.removed -or -not (Test-Path -LiteralPath $ExportPath -PathType Leaf)) {
        throw "python -m codeb tenant remove did not export and remove tenant '$Name'."
    }
    $exported = $ExportPath
}
elseif ($RemoveData -and $dataExists -and -not $WhatIfPreference) {
    return  # declined: the site stays too, so the tenant is whole
}

$removedSite = $false
$what = "IIS site '$($paths.SiteName)' ($($hosts -join ', ')), its bindings, application pool and certificate"
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

    # The tenant's certificates: bound to its site, or made for it and not bound; never one another site uses.
    $selfSignedName = Get-CodebSelfSignedName -Tenant $Name
    $acmeName = Get-CodebAcmeName -Tenant $Name
    $ours = @(Get-ChildItem -Path 'Cert:\LocalMachine\My' | Where-Object {
        ($_.FriendlyName -eq $selfSignedName -and $_.Subject -eq $_.Issuer) -or
        $_.FriendlyName -eq $acmeName -or $_.FriendlyName.StartsWith("$acmeName ")
    })
    foreach ($certificate in $ours) {
        if (Test-CodebCertificateInUse -Thumbprint $certificate.Thumbprint -ExceptSite $paths.SiteName) {
            Write-Warning "The certificate $($certificate.Thumbprint) stays: another site uses it."
            continue
        }
        Remove-Item -LiteralPath (Join-Path 'Cert:\LocalMachine\My' $certificate.Thumbprint) -Confirm:$false
    }
    foreach ($thumbprint in $thumbprints) {
        if (-not @($ours | Where-Object { $_.Thumbprint -eq $thumbprint })) {
            Write-Verbose "The certificate $thumbprint was not made for tenant '$Name': it stays."
        }
    }
    if (@($ours | Where-Object { $_.FriendlyName -ne $selfSignedName }).Count -gt 0) {
        Remove-CodebAcmeRenewal -Tenant $Name -Acme $hostSettings.Acme
    }

    if (Remove-CodebTurnTenant -Layout $layout -Turn $hostSettings.Turn -Tenant $Name) {
        $null = Update-CodebTurnConfig -Layout $layout -Turn $hostSettings.Turn
    }
    $removedSite = $true
}

$removedData = $false
if (($null -ne $exported -or ($RemoveData -and -not $dataExists)) -and $folderExists -and $removedSite) {
    Remove-CodebTree -Path $paths.SiteFolder
    $removedData = $true
}
elseif ($folderExists -and -not $RemoveData) {
    Write-Verbose "The data of tenant '$Name' stays in $($paths.TenantData)."
}

$dataLeft = $null
if (-not $removedData -and (Test-Path -LiteralPath $paths.TenantData)) {
    $dataLeft = $paths.TenantData
}
[pscustomobject]@{
    Tenant      = $Name
    SiteRemoved = $removedSite
    HostName    = $hosts
    Exported    = $exported
    DataRemoved = $null -ne $exported
    Data        = $dataLeft
}
