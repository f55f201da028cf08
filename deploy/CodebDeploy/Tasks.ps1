# The scheduled tasks of a CodeB host, both run by SYSTEM and never two runs at once:
# the provisioning worker (deploy\Invoke-CodebProvisioning.ps1) every minute, and the
# back-channel logout deliveries (deploy\Invoke-CodebBackchannel.ps1) every 5 minutes.


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
        hangs is stopped after 30 minutes (Register-CodebScriptTask).
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

    return Register-CodebScriptTask -TaskName $script:ProvisioningTaskName -TaskPath $script:ProvisioningTaskPath `
        -Script $Script -Root $Root -Minutes 1 `
        -Description 'CodeB: the IIS part of self-service sign-ups (deploy\Invoke-CodebProvisioning.ps1).'
}

function Register-CodebBackchannelTask {
    <#
    .SYNOPSIS
        Register the back-channel logout deliveries as a scheduled task, unless it is registered so already.
    .DESCRIPTION
        \CodeB\CodeB back-channel logout runs Windows PowerShell 5.1 with
        Invoke-CodebBackchannel.ps1 every 5 minutes, as SYSTEM with the highest
        privileges (it reads every tenant's data folder, which only its own pool,
        SYSTEM and Administrators may open), and never twice at once
        (MultipleInstances IgnoreNew). A run that hangs is stopped after 30
        minutes (Register-CodebScriptTask).

        The sites' own processes send a logout token at once; this task sends
        the retries that a recycled or idle site left waiting.
    .PARAMETER Script
        The full path of Invoke-CodebBackchannel.ps1 in the installed release.
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

    return Register-CodebScriptTask -TaskName $script:BackchannelTaskName -TaskPath $script:BackchannelTaskPath `
        -Script $Script -Root $Root -Minutes 5 `
        -Description 'CodeB: back-channel logout tokens that are due, for every tenant (deploy\Invoke-CodebBackchannel.ps1).'
}

function Register-CodebScriptTask {
    <#
    .SYNOPSIS
        Register a deployment script as a repeating scheduled task run by SYSTEM, unless it is registered so already.
    .DESCRIPTION
        The task runs Windows PowerShell 5.1 with the script and -Root, once from
        now and then every Minutes minutes with no end, as SYSTEM with the highest
        privileges, and never twice at once: a run still going when the next one
        is due makes the new one be skipped (MultipleInstances IgnoreNew). A run
        that hangs is stopped after 30 minutes.

        Get, compare, set: a task with this action, trigger interval, account,
        run level and instance policy is left alone; anything else is registered again.
    .PARAMETER TaskName
        The task's name, such as CodeB provisioning.
    .PARAMETER TaskPath
        The task's folder, such as \CodeB\.
    .PARAMETER Script
        The full path of the script in the installed release.
    .PARAMETER Root
        The installation root, passed to the script.
    .PARAMETER Minutes
        How often the task runs, in minutes (1 to 59).
    .PARAMETER Description
        The task's description in Task Scheduler.
    .OUTPUTS
        System.Boolean: whether the task was (re)registered.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$TaskName,

        [Parameter(Mandatory)]
        [string]$TaskPath,

        [Parameter(Mandatory)]
        [string]$Script,

        [Parameter(Mandatory)]
        [string]$Root,

        # Task Scheduler writes 60 minutes as PT1H, not PT60M: the comparison below counts minutes only.
        [Parameter(Mandatory)]
        [ValidateRange(1, 59)]
        [int]$Minutes,

        [Parameter(Mandatory)]
        [string]$Description
    )

    $powershell = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $arguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$Script`" -Root `"$Root`""
    # Task Scheduler keeps the interval as an ISO 8601 duration: PT1M, PT5M, ...
    $interval = 'PT{0}M' -f $Minutes
    $existing = Get-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath -ErrorAction SilentlyContinue
    if ($null -ne $existing) {
        $action = @($existing.Actions)[0]
        $trigger = @($existing.Triggers)[0]
        $same = @($existing.Actions).Count -eq 1 -and $action.Execute -eq $powershell -and $action.Arguments -eq $arguments -and
            @($existing.Triggers).Count -eq 1 -and $null -ne $trigger.Repetition -and $trigger.Repetition.Interval -eq $interval -and
            "$($existing.Settings.MultipleInstances)" -eq 'IgnoreNew' -and $existing.Principal.UserId -in @('SYSTEM', 'NT AUTHORITY\SYSTEM', 'S-1-5-18') -and
            "$($existing.Principal.RunLevel)" -eq 'Highest'
        if ($same) {
            Write-Verbose "The scheduled task $TaskPath$TaskName is registered as it should be."
            return $false
        }
    }

    $taskAction = New-ScheduledTaskAction -Execute $powershell -Argument $arguments
    # Once, from now, repeated every $Minutes minutes with no end (omitting -RepetitionDuration means indefinitely).
    $taskTrigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes $Minutes)
    $taskSettings = New-ScheduledTaskSettingsSet -MultipleInstances IgnoreNew -ExecutionTimeLimit (New-TimeSpan -Minutes 30) `
        -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    $taskPrincipal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $null = Register-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath `
        -Action $taskAction -Trigger $taskTrigger -Settings $taskSettings -Principal $taskPrincipal `
        -Description $Description -Force
    return $true
}
