#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    Send the OpenID back-channel logout tokens that are due, for every tenant of the host.

.DESCRIPTION
    What the scheduled task "\CodeB\CodeB back-channel logout" (Initialize-CodebHost.ps1)
    runs every 5 minutes as SYSTEM. When someone signs out, the site's own process queues
    a logout token for each relying party that asked for one and sends it at once; a
    delivery that fails is retried later from the tenant's durable queue. A retry that is
    due after the site's process was recycled, or while the site is idle and no process
    runs, waits for this script:

    for each tenant (the site folders <Root>\sites\<tenant> made by New-CodebTenant.ps1,
    and the tenants the provisioning worker made in the host's data root <Root>\App_Data),
    it runs python -m codeb backchannel deliver TENANT on the tenant's data root, which
    sends what is due once each and prints how many were delivered, are retrying, failed
    for good, are held by a site's process (busy) or not yet due (waiting). Running beside
    the sites is safe: a delivery one of their processes holds is skipped.

    A tenant where something was sent, retried or given up gets a line in
    <Root>\logs\backchannel-<date>.log (a quiet one is told only with -Verbose). A tenant that
    fails is logged and warned about and the other tenants still run; the script then
    exits with code 1, which Task Scheduler shows as the task's last result.

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.EXAMPLE
    .\Invoke-CodebBackchannel.ps1

    One pass over every tenant, as the scheduled task runs it.

.EXAMPLE
    .\Invoke-CodebBackchannel.ps1 -Root D:\CodeB -Verbose

    One pass over the tenants of D:\CodeB, telling each outcome.

.EXAMPLE
    .\Invoke-CodebBackchannel.ps1 -WhatIf

    Shows which tenants the pass would deliver for, and sends nothing.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force

Assert-CodebAdministrator
$layout = Get-CodebLayout -Root $Root
Assert-CodebHostPrepared -Layout $layout
$logFolder = Join-Path $layout.Root 'logs'
$null = New-Item -ItemType Directory -Path $logFolder -Force -Confirm:$false
$log = Join-Path $logFolder ('backchannel-{0}.log' -f [DateTime]::UtcNow.ToString('yyyyMMdd'))
$failures = 0

# --- Every tenant once: the site folders, then the tenants in the host's data root.
$candidates = New-Object System.Collections.Generic.List[string]
foreach ($folder in @(Get-CodebSiteFolder -Layout $layout)) {
    $candidates.Add($folder.Name)
}
if (Test-Path -LiteralPath $layout.Data -PathType Container) {
    # The host's data root also holds _host (the sign-up spool, the host index): no tenant name.
    Get-ChildItem -LiteralPath $layout.Data -Directory |
        Where-Object { Test-Path -LiteralPath (Join-Path $_.FullName 'tenant.json') -PathType Leaf } |
        ForEach-Object { $candidates.Add($_.Name) }
}

$seen = New-Object System.Collections.Generic.HashSet[string]
foreach ($tenant in $candidates) {
    try {
        Assert-CodebTenantName -Name $tenant
    }
    catch {
        Write-Verbose "Skipping '$tenant': $($_.Exception.Message)"
        continue
    }
    if (-not $seen.Add($tenant)) {
        continue
    }
    try {
        # The site folder's data wins, as for every other script (Resolve-CodebTenantPath).
        $paths = Resolve-CodebTenantPath -Name $tenant -Root $layout.Root
    }
    catch {
        $failures++
        Write-CodebLog -Path $log -Line "${tenant}: cannot find its data: $($_.Exception.Message)"
        Write-Warning "Tenant ${tenant}: $($_.Exception.Message)"
        continue
    }
    if (-not (Test-Path -LiteralPath $paths.TenantFile -PathType Leaf)) {
        Write-Verbose "Skipping '$tenant': '$($paths.TenantFile)' does not exist."
        continue
    }
    if ($PSCmdlet.ShouldProcess("$tenant ($($paths.DataRoot))", 'Send the back-channel logout tokens that are due (python -m codeb backchannel deliver)')) {
        try {
            $outcome = Invoke-CodebPython -Layout $layout -DataRoot $paths.DataRoot -ArgumentList @('backchannel', 'deliver', $tenant)
            $counts = $outcome | ConvertFrom-Json
            if (($counts.delivered + $counts.retrying + $counts.failed) -gt 0) {
                Write-CodebLog -Path $log -Line "${tenant}: $($outcome -replace '\s+', ' ')"
            }
            else {
                # Nothing was due: no line every five minutes for every quiet tenant.
                Write-Verbose "${tenant}: $($outcome -replace '\s+', ' ')"
            }
        }
        catch {
            # One tenant failing stops no other: the next pass tries it again.
            $failures++
            Write-CodebLog -Path $log -Line "${tenant}: backchannel deliver failed: $($_.Exception.Message)"
            Write-Warning "Tenant ${tenant}: python -m codeb backchannel deliver failed: $($_.Exception.Message)"
        }
    }
}

if ($failures -gt 0) {
    exit 1
}
