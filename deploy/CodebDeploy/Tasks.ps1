# The scheduled task that runs the provisioning worker (deploy\Invoke-CodebProvisioning.ps1)
# every minute as SYSTEM, never two runs at once.


function Register-CodebProvisioningTask {
    <#
    .SYNOPSIS
        Register the provisioning worker as a scheduled task, unless it is registered so already.
    .DESCRIPTION
        \CodeB\CodeB provisioning runs Windows PowerShell 5.1 with the worker
        script every minute, as SYSTEM with the highest privileges (it creates IIS
        sites, pools, certificates and ACLs, which need an administrator anyway),
        and never twice at once: a run still going when the next minute comes
        makes the new one be skipped (MultipleInstances IgnoreNew). A run that
        hangs is stopped after 30 minutes.

        Get, compare, set: a task with this action, trigger interval, account and
        instance policy is left alone; anything else is registered again.
    .PARAMETER Script
        The full path of Invoke-CodebProvisioning.ps1 in the installed release.
    .PARAMETER Root
        The installation root, passed to the script.
    .OUTPUTS
        System.Boolean: whether the task was (re)registered.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Script,

        [Parameter(Mandatory)]
        [string]$Root
    )

    $powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$Script`" -Root `"$Root`""
    $existing = Get-ScheduledTask -TaskName $script:ProvisioningTaskName -TaskPath $script:ProvisioningTaskPath -ErrorAction SilentlyContinue
    if ($null -ne $existing) {
        $action = @($existing.Actions)[0]
        $trigger = @($existing.Triggers)[0]
        $same = @($existing.Actions).Count -eq 1 -and $action.Execute -eq $powershell -and $action.Arguments -eq $arguments -and
            @($existing.Triggers).Count -eq 1 -and $null -ne $trigger.Repetition -and $trigger.Repetition.Interval -eq 'PT1M' -and
            "$($existing.Settings.MultipleInstances)" -eq 'IgnoreNew' -and $existing.Principal.UserId -in @('SYSTEM', 'NT AUTHORITY\SYSTEM', 'S-1-5-18') -and
            "$($existing.Principal.RunLevel)" -eq 'Highest'
        if ($same) {
            Write-Verbose "The scheduled task $($script:ProvisioningTaskPath)$($script:ProvisioningTaskName) is registered as it should be."
            return $false
        }
    }

    $taskAction = New-ScheduledTaskAction -Execute $powershell -Argument $arguments
    # Once, from now, repeated every minute with no end (omitting -RepetitionDuration means indefinitely).
    $taskTrigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 1)
    $taskSettings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Minutes 30) `
        -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    $taskPrincipal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $null = Register-ScheduledTask -TaskName $script:ProvisioningTaskName -TaskPath $script:ProvisioningTaskPath `
        -Action $taskAction -Trigger $taskTrigger -Settings $taskSettings -Principal $taskPrincipal `
        -Description 'CodeB: the IIS part of self-service sign-ups (deploy\Invoke-CodebProvisioning.ps1).' -Force
    return $true
}
