# IIS application pools: one per tenant, with its own virtual account; created,
# removed, stopped (waiting for its worker processes) and started.


function Test-CodebAppPool {
    <#
    .SYNOPSIS
        Whether an IIS application pool of this name exists.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Reset-IISServerManager -Confirm:$false
    return $null -ne (Get-IISServerManager).ApplicationPools[$Name]
}

function New-CodebAppPool {
    <#
    .SYNOPSIS
        Create a tenant's application pool.
    .DESCRIPTION
        No managed (.NET) runtime, integrated pipeline, its own virtual account
        (ApplicationPoolIdentity) with a user profile for TEMP. Recycling is
        allowed and may overlap: the app keeps no state in process memory.
    .PARAMETER Name
        The pool name (the tenant name).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$poolName)

        $pool = $manager.ApplicationPools.Add($poolName)
        $pool.ManagedRuntimeVersion = ''
        $pool.ManagedPipelineMode = 'Integrated'
        $pool.Enable32BitAppOnWin64 = $false
        $pool.AutoStart = $true
        $pool.StartMode = 'OnDemand'
        $pool.ProcessModel.IdentityType = 'ApplicationPoolIdentity'
        $pool.ProcessModel.LoadUserProfile = $true
        $pool.Recycling.DisallowOverlappingRotation = $false
        $pool.Recycling.DisallowRotationOnConfigChange = $false
    }
}

function Remove-CodebAppPool {
    <#
    .SYNOPSIS
        Delete an application pool if it exists.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Invoke-CodebIisChange -ArgumentList @($Name) -Change {
        param($manager, [string]$poolName)

        $pool = $manager.ApplicationPools[$poolName]
        if ($null -ne $pool) {
            $manager.ApplicationPools.Remove($pool)
        }
    }
}

function Stop-CodebAppPool {
    <#
    .SYNOPSIS
        Stop an application pool and wait until its worker processes are gone.
    .PARAMETER Name
        The pool name.
    .PARAMETER TimeoutSeconds
        How long to wait.
    .OUTPUTS
        System.Boolean: whether the pool was running (and should be started again).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [ValidateRange(1, 3600)]
        [int]$TimeoutSeconds = 120
    )

    Reset-IISServerManager -Confirm:$false
    $pool = (Get-IISServerManager).ApplicationPools[$Name]
    if ($null -eq $pool) {
        throw "There is no application pool '$Name'."
    }
    $wasRunning = "$($pool.State)" -in @('Started', 'Starting')
    if ($wasRunning) {
        $null = $pool.Stop()
    }

    $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
    while ($true) {
        Reset-IISServerManager -Confirm:$false
        $pool = (Get-IISServerManager).ApplicationPools[$Name]
        if ("$($pool.State)" -eq 'Stopped' -and @($pool.WorkerProcesses).Count -eq 0) {
            break
        }
        if ((Get-Date) -gt $deadline) {
            throw "The application pool '$Name' did not stop within $TimeoutSeconds seconds."
        }
        Start-Sleep -Milliseconds 500
    }
    return $wasRunning
}

function Start-CodebAppPool {
    <#
    .SYNOPSIS
        Start an application pool.
    .PARAMETER Name
        The pool name.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    Reset-IISServerManager -Confirm:$false
    $pool = (Get-IISServerManager).ApplicationPools[$Name]
    if ($null -eq $pool) {
        throw "There is no application pool '$Name'."
    }
    if ("$($pool.State)" -ne 'Started') {
        $null = $pool.Start()
    }
}
