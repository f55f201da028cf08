#Requires -Version 5.1
#Requires -PSEdition Desktop
#Requires -RunAsAdministrator

<#
.SYNOPSIS
    The provisioning worker: make the tenants people asked for on the sign-up page, Python part and IIS part.

.DESCRIPTION
    What the scheduled task "\CodeB\CodeB provisioning" (Initialize-CodebHost.ps1) runs
    every minute as SYSTEM. The sign-up site only writes requests into the spool of the
    host's data root (<Root>\App_Data\_host\provisioning\requests); this script:

    1. runs python -m codeb provision run --once: the Python steps of every queued
       request (tenant folder, keys, settings, first admin, TURN secret, VAPID keys),
       each journaled in the request, which then is python_done;
    2. for each python_done request, reads python -m codeb provision plan TENANT and does
       the Windows steps with the functions New-CodebTenant.ps1 uses, each reported with
       python -m codeb provision report ID STEP ok|failed --detail TEXT:
         iis        the application pool codeb-<tenant>, the site folder linked to the
                    release with its web.config, App_Data\<tenant> modifiable by that
                    pool only, the site codeb-<tenant> with an HTTP binding per host
                    (ACME challenges, and the redirect to HTTPS), the mail folders, and
                    the tenant's TURN secret where the host's coturn reads it;
         dns_check  every host name resolves (to -ExpectedAddress, if given);
         tls        the certificate the plan's certificate.source names (ACME through
                    win-acme, or self-signed for internal names) and an HTTPS binding
                    (SNI) per host with it.

    Every step is get-compare-set: a rerun finds what a run before it made and changes
    nothing; a step that is done in the request's journal is not run again. A failed
    step is reported with its error (the request becomes failed, and the sign-up's
    progress page says that the operator was told), written to
    <Root>\logs\provisioning-<date>.log, and makes the script exit with code 1, which
    Task Scheduler shows as the task's last result. Nothing is thrown away.

.PARAMETER Root
    The installation root given to Initialize-CodebHost.ps1. Default: C:\CodeB.

.PARAMETER Hosting
    How IIS runs Python for new sites: WfastCgi (the default) or HttpPlatform, as
    New-CodebTenant.ps1 -Hosting.

.PARAMETER ExpectedAddress
    This server's public IP addresses: the DNS check wants each host name to resolve
    to one of them. Without it, any address counts.

.EXAMPLE
    .\Invoke-CodebProvisioning.ps1

    One pass over the spool, as the scheduled task runs it.

.EXAMPLE
    .\Invoke-CodebProvisioning.ps1 -ExpectedAddress 203.0.113.10, 2001:db8::10 -Verbose

    One pass, checking that the new hosts point at this server, telling every step.

.EXAMPLE
    .\Invoke-CodebProvisioning.ps1 -WhatIf

    Shows what the pass would do, runs nothing and reports nothing.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    [ValidatePattern('^[A-Za-z]:\\[^:*?"<>|]*$')]
    [string]$Root = (Join-Path $env:SystemDrive 'CodeB'),

    [ValidateSet('WfastCgi', 'HttpPlatform')]
    [string]$Hosting = 'WfastCgi',

    [ValidateScript({ $null -ne ($_ -as [System.Net.IPAddress]) })]
    [string[]]$ExpectedAddress = @()
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'CodebDeploy\CodebDeploy.psd1') -Force
Import-Module IISAdministration

Assert-CodebAdministrator
$layout = Get-CodebLayout -Root $Root
Assert-CodebHostPrepared -Layout $layout
$hostSettings = Get-CodebHostSetting -Layout $layout
$logFolder = Join-Path $layout.Root 'logs'
$null = New-Item -ItemType Directory -Path $logFolder -Force -Confirm:$false
$log = Join-Path $logFolder ('provisioning-{0}.log' -f [DateTime]::UtcNow.ToString('yyyyMMdd'))
$failures = 0

if ($Hosting -eq 'HttpPlatform') {
    $template = Join-Path $layout.App 'deploy\web.httpplatform.config'
}
else {
    $template = Join-Path $layout.App 'web.config'
}

# --- 1. The Python part of every queued request.
if ($PSCmdlet.ShouldProcess($layout.Data, 'Run the Python steps of queued sign-ups (python -m codeb provision run --once)')) {
    try {
        $done = Invoke-CodebPython -Layout $layout -DataRoot $layout.Data -ArgumentList @('provision', 'run', '--once')
        if ($done) {
            Write-CodebLog -Path $log -Line "provision run --once: $($done -replace '\s+', ' ')"
        }
    }
    catch {
        # The requests journal their own failures; this is the run itself failing.
        $failures++
        Write-CodebLog -Path $log -Line "provision run --once failed: $($_.Exception.Message)"
        Write-Warning "python -m codeb provision run --once failed: $($_.Exception.Message)"
    }
}

# --- 2. The Windows part of each request whose Python part is done.
$steps = [ordered]@{
    iis       = 'Create the application pool, site folder, web.config, ACLs, HTTP bindings and TURN secret'
    dns_check = 'Check that every host name resolves'
    tls       = 'Get the certificate and bind it over HTTPS (SNI)'
}

foreach ($request in @(Get-CodebProvisioningRequest -Layout $layout -State 'python_done')) {
    $tenant = [string]$request.tenant
    try {
        Assert-CodebTenantName -Name $tenant
        $plan = Get-CodebProvisioningPlan -Layout $layout -DataRoot $layout.Data -Tenant $tenant
        if (-not $plan.ready -or $plan.request -cne $request.id) {
            Write-CodebLog -Path $log -Line "request $($request.id) ($tenant): the plan is not ready for it (python: $($plan.python)); next pass."
            continue
        }
        $paths = Get-CodebTenantPath -Name $tenant -Root $Root -HostData
        # The plan and this module name the same things (one rule: codeb/provisioning/plan.py).
        $pool = Get-CodebPlanItem -Plan $plan -Item 'app_pool'
        $folder = Get-CodebPlanItem -Plan $plan -Item 'folder'
        if ($pool.name -cne $paths.PoolName -or (Get-CodebPlanItem -Plan $plan -Item 'site').name -cne $paths.SiteName) {
            throw "The plan names the pool '$($pool.name)', this module '$($paths.PoolName)': the release is inconsistent."
        }
        if ([System.IO.Path]::GetFullPath($folder.path).TrimEnd('\') -ne $paths.TenantData) {
            throw "The plan's tenant folder '$($folder.path)' is not '$($paths.TenantData)'."
        }
        $hosts = @(ConvertTo-CodebHostName -HostName @($plan.hosts))
    }
    catch {
        $failures++
        Write-CodebLog -Path $log -Line "request $($request.id) ($tenant): cannot plan: $($_.Exception.Message)"
        Write-Warning "Request $($request.id) ($tenant): $($_.Exception.Message)"
        continue
    }

    foreach ($step in $steps.Keys) {
        $journal = @($request.steps | Where-Object { $_.name -ceq $step })
        if ($journal.Count -eq 1 -and $journal[0].state -ceq 'done') {
            continue
        }
        if (-not $PSCmdlet.ShouldProcess("$tenant ($($hosts -join ', '))", $steps[$step])) {
            break
        }
        try {
            $notes = New-Object System.Collections.Generic.List[string]
            switch ($step) {
                'iis' {
                    $conflicts = @(Find-CodebBindingConflict -HostName $hosts | Where-Object { $_.Site -ne $paths.SiteName })
                    if ($conflicts.Count -gt 0) {
                        throw "Host names already bound to other sites: $(($conflicts | ForEach-Object { "$($_.HostName) ($($_.Site))" }) -join ', ')."
                    }
                    if ($Hosting -eq 'HttpPlatform' -and -not (Test-CodebHttpPlatformHandler)) {
                        throw 'IIS has no HttpPlatformHandler module.'
                    }
                    if (-not (Test-CodebRewriteModule)) {
                        throw 'IIS has no URL Rewrite module (web.config redirects HTTP to HTTPS with it): install URL Rewrite 2.1.'
                    }
                    if (-not (Test-CodebAppPool -Name $paths.PoolName)) {
                        New-CodebAppPool -Name $paths.PoolName
                        $notes.Add("pool $($paths.PoolName) created")
                    }
                    $null = New-Item -ItemType Directory -Path $paths.SiteFolder -Force -Confirm:$false
                    Install-CodebSiteCode -Layout $layout -SiteFolder $paths.SiteFolder
                    $siteSettings = @{
                        PYTHONPATH   = $paths.SiteFolder
                        CODEB_TENANT = $tenant
                        CODEB_DATA   = $paths.DataRoot
                    } + (Get-CodebSmtpAppSetting -Smtp $hostSettings.Smtp)
                    if ($Hosting -eq 'HttpPlatform') {
                        Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                            -ProcessPath $layout.Python
                    }
                    else {
                        Write-CodebWebConfig -TemplatePath $template -Destination $paths.WebConfig -AppSetting $siteSettings `
                            -ScriptProcessor $layout.ScriptProcessor
                    }
                    $poolSid = Get-CodebPoolSid -PoolName $paths.PoolName
                    if (Set-CodebSiteAcl -Paths $paths -PoolSid $poolSid) {
                        $notes.Add("$($paths.TenantData) modifiable by IIS AppPool\$($paths.PoolName) only")
                    }
                    Grant-CodebMailAccess -Layout $layout -PoolSid $poolSid
                    if (-not (Test-CodebSite -Name $paths.SiteName)) {
                        New-CodebSite -Name $paths.SiteName -PoolName $paths.PoolName -PhysicalPath $paths.SiteFolder -HostName $hosts
                        $notes.Add("site $($paths.SiteName) created")
                    }
                    else {
                        Assert-CodebSiteServes -Name $paths.SiteName -PoolName $paths.PoolName -PhysicalPath $paths.SiteFolder
                        if (Set-CodebSiteBinding -Name $paths.SiteName -HostName $hosts) {
                            $notes.Add('HTTP bindings added')
                        }
                    }
                    $turnPaths = Get-CodebTurnPath -Layout $layout -Turn $hostSettings.Turn
                    if (Test-Path -LiteralPath $turnPaths.Base -PathType Leaf) {
                        $shown = Invoke-CodebPython -Layout $layout -DataRoot $layout.Data -ArgumentList @('turn', 'show', $tenant) |
                            ConvertFrom-Json
                        $null = Set-CodebTurnTenant -Layout $layout -Turn $hostSettings.Turn -Tenant $tenant `
                            -Realm $shown.coturn.realm -Secret @($shown.coturn.static_auth_secrets)
                        if (Update-CodebTurnConfig -Layout $layout -Turn $hostSettings.Turn) {
                            $notes.Add("TURN secret written to $($turnPaths.Config)")
                        }
                    }
                    else {
                        $notes.Add("no TURN server configured on this host ($($turnPaths.Base) is missing)")
                    }
                }
                'dns_check' {
                    $dns = Test-CodebHostDns -HostName $hosts -ExpectedAddress $ExpectedAddress
                    if (-not $dns.Ok) {
                        throw $dns.Detail
                    }
                    $notes.Add($dns.Detail)
                }
                'tls' {
                    $source = [string](Get-CodebPlanItem -Plan $plan -Item 'certificate').source
                    $certificate = Get-CodebTenantCertificate -Tenant $tenant -HostName $hosts -Source $source `
                        -SiteName $paths.SiteName -SiteFolder $paths.SiteFolder -Acme $hostSettings.Acme
                    $rebound = Set-CodebSiteBinding -Name $paths.SiteName -HostName $hosts -Thumbprint $certificate.Thumbprint
                    $notes.Add("$source certificate $($certificate.Thumbprint) valid until $($certificate.NotAfter.ToString('yyyy-MM-dd'))")
                    if ($rebound) {
                        $notes.Add('HTTPS bindings (SNI) set')
                    }
                }
            }
            if ($notes.Count -eq 0) {
                $notes.Add('already in place')
            }
            $detail = $notes -join '; '
            Write-CodebProvisioningReport -Layout $layout -DataRoot $layout.Data -RequestId $request.id -Step $step -Result ok -Detail $detail
            Write-CodebLog -Path $log -Line "request $($request.id) ($tenant) ${step}: ok: $detail"
        }
        catch {
            $failures++
            $message = $_.Exception.Message
            Write-CodebLog -Path $log -Line "request $($request.id) ($tenant) ${step}: failed: $message"
            Write-Warning "Request $($request.id) ($tenant), step ${step}: $message"
            try {
                Write-CodebProvisioningReport -Layout $layout -DataRoot $layout.Data -RequestId $request.id -Step $step -Result failed -Detail $message
            }
            catch {
                Write-CodebLog -Path $log -Line "request $($request.id) ($tenant) ${step}: the failure could not be reported: $($_.Exception.Message)"
            }
            break  # the later steps build on this one
        }
    }
}

if ($failures -gt 0) {
    exit 1
}
