# The Windows worker's side of python -m codeb provision: run the Python part, read the
# requests and the plan of a tenant, report how each Windows step went, check DNS.


function Invoke-CodebPython {
    <#
    .SYNOPSIS
        Run python -m codeb with the host venv on a data root; return what it printed (stdout).
    .DESCRIPTION
        stdout is the command's JSON; stderr (its log and its error message) is
        shown with -Verbose and, if the exit code is not zero, is the message of
        the error thrown. UTF-8 both ways, CODEB_TENANT unset for the run.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER DataRoot
        The data root (CODEB_DATA) the command works on.
    .PARAMETER ArgumentList
        The arguments after python -m codeb, one element each.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [string]$DataRoot,

        [Parameter(Mandatory)]
        [string[]]$ArgumentList
    )

    $ErrorActionPreference = 'Continue'  # stderr lines are no error records: the exit code decides
    $arguments = @('-m', 'codeb') + $ArgumentList
    $environment = @{ CODEB_DATA = $DataRoot; CODEB_TENANT = $null; PYTHONIOENCODING = 'utf-8' }
    $saved = @{}
    foreach ($key in $environment.Keys) {
        $saved[$key] = [Environment]::GetEnvironmentVariable($key, 'Process')
        [Environment]::SetEnvironmentVariable($key, $environment[$key], 'Process')
    }
    $savedEncoding = [Console]::OutputEncoding
    $errorFile = [System.IO.Path]::GetTempFileName()
    Push-Location -LiteralPath $Layout.App
    try {
        [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding($false)
        Write-Verbose "Running: python $($arguments -join ' ')"
        $output = @(& $Layout.Python @arguments 2> $errorFile)
        $exitCode = $LASTEXITCODE
        $errors = [System.IO.File]::ReadAllText($errorFile).Trim()
    }
    finally {
        Pop-Location
        [Console]::OutputEncoding = $savedEncoding
        Remove-Item -LiteralPath $errorFile -Force -ErrorAction SilentlyContinue
        foreach ($key in $saved.Keys) {
            [Environment]::SetEnvironmentVariable($key, $saved[$key], 'Process')
        }
    }
    if ($errors) {
        Write-Verbose $errors
    }
    if ($exitCode -ne 0) {
        throw "python -m codeb $($ArgumentList -join ' ') failed (exit code $exitCode): $errors"
    }
    return ($output -join "`n")
}

function Get-CodebProvisioningRequest {
    <#
    .SYNOPSIS
        The sign-up requests in the host's spool, oldest first, optionally of one state only.
    .DESCRIPTION
        Reads <data>\_host\provisioning\requests\<id>.json, the documents the
        Python worker journals into (each written atomically, so each read is whole).
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER State
        Only requests in this state, such as python_done.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [string]$State
    )

    if (-not (Test-Path -LiteralPath $Layout.Requests -PathType Container)) {
        return
    }
    $found = foreach ($file in @(Get-ChildItem -LiteralPath $Layout.Requests -Filter '*.json' -File)) {
        if ($file.BaseName -cnotmatch '^[0-9a-f]{32}$') {
            continue
        }
        $document = Get-Content -LiteralPath $file.FullName -Raw -Encoding UTF8 | ConvertFrom-Json
        $document | Add-Member -NotePropertyName id -NotePropertyValue $file.BaseName -Force
        $document
    }
    $found |
        Where-Object { -not $State -or $_.state -ceq $State } |
        Sort-Object -Property @{ Expression = { $_.created } }, @{ Expression = { $_.id } }
}

function Get-CodebProvisioningPlan {
    <#
    .SYNOPSIS
        What the Windows scripts must do for a tenant: python -m codeb provision plan TENANT [--remove].
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER DataRoot
        The data root the tenant is in.
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER Remove
        The plan of the tenant's removal.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [string]$DataRoot,

        [Parameter(Mandatory)]
        [string]$Tenant,

        [switch]$Remove
    )

    Assert-CodebTenantName -Name $Tenant
    $arguments = @('provision', 'plan', $Tenant)
    if ($Remove) {
        $arguments += '--remove'
    }
    return (Invoke-CodebPython -Layout $Layout -DataRoot $DataRoot -ArgumentList $arguments | ConvertFrom-Json)
}

function Get-CodebPlanItem {
    <#
    .SYNOPSIS
        One item of a plan, such as app_pool or certificate; throws if the plan has none.
    .PARAMETER Plan
        The plan from Get-CodebProvisioningPlan.
    .PARAMETER Item
        The item's name.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Plan,

        [Parameter(Mandatory)]
        [string]$Item
    )

    $found = @($Plan.items | Where-Object { $_.item -ceq $Item })
    if ($found.Count -ne 1) {
        throw "The plan of tenant '$($Plan.tenant)' has $($found.Count) items '$Item', not one."
    }
    return $found[0]
}

function Write-CodebProvisioningReport {
    <#
    .SYNOPSIS
        Tell the request's journal how a Windows step went:
        python -m codeb provision report ID STEP ok|failed --detail TEXT.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER DataRoot
        The data root of the spool.
    .PARAMETER RequestId
        The request's id.
    .PARAMETER Step
        iis, tls or dns_check.
    .PARAMETER Result
        ok or failed.
    .PARAMETER Detail
        What happened, one line (the journal keeps 500 characters).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [string]$DataRoot,

        [Parameter(Mandatory)]
        [ValidatePattern('^[0-9a-f]{32}$')]
        [string]$RequestId,

        [Parameter(Mandatory)]
        [ValidateSet('iis', 'tls', 'dns_check')]
        [string]$Step,

        [Parameter(Mandatory)]
        [ValidateSet('ok', 'failed')]
        [string]$Result,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$Detail
    )

    $line = ($Detail -replace '[\r\n]+', ' ').Trim()
    if ($line.Length -gt 500) {
        $line = $line.Substring(0, 500)
    }
    if (-not $line) {
        $line = $Result
    }
    $null = Invoke-CodebPython -Layout $Layout -DataRoot $DataRoot -ArgumentList @(
        'provision', 'report', $RequestId, $Step, $Result, '--detail', $line)
}

function Test-CodebHostDns {
    <#
    .SYNOPSIS
        Whether each host name resolves (A or AAAA), and to one of the expected addresses if given.
    .DESCRIPTION
        Resolves as the server itself does (DNS, and the hosts file for internal
        names). Returns Ok and a one-line Detail naming what each host resolved to.
    .PARAMETER HostName
        The host names.
    .PARAMETER ExpectedAddress
        This server's public addresses; without them any address counts.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [string[]]$HostName,

        [string[]]$ExpectedAddress = @()
    )

    $ok = $true
    $notes = New-Object System.Collections.Generic.List[string]
    foreach ($dnsName in $HostName) {
        $addresses = @(
            Resolve-DnsName -Name $dnsName -ErrorAction SilentlyContinue |
                Where-Object { $_.Type -in @('A', 'AAAA') } |
                ForEach-Object { $_.IPAddress } |
                Sort-Object -Unique
        )
        if ($addresses.Count -eq 0) {
            $ok = $false
            $notes.Add("$dnsName does not resolve")
            continue
        }
        if ($ExpectedAddress.Count -gt 0 -and -not @($addresses | Where-Object { $ExpectedAddress -contains $_ })) {
            $ok = $false
            $notes.Add("$dnsName resolves to $($addresses -join ' '), not to this server ($($ExpectedAddress -join ' '))")
            continue
        }
        $notes.Add("$dnsName -> $($addresses -join ' ')")
    }
    [pscustomobject]@{
        Ok     = $ok
        Detail = $notes -join '; '
    }
}

function Write-CodebLog {
    <#
    .SYNOPSIS
        Append one time-stamped line to a log file (and show it with -Verbose).
    .PARAMETER Path
        The log file.
    .PARAMETER Line
        What happened.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [string]$Line
    )

    Add-Content -LiteralPath $Path -Value ('{0} {1}' -f [DateTime]::UtcNow.ToString('s'), $Line) -Encoding UTF8 -Confirm:$false
    Write-Verbose $Line
}
