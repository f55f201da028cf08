# Python: the host's Python 3.11 and its version, and whether IIS runs the
# venv's wfastcgi as a FastCGI application.


function Get-CodebPython {
    <#
    .SYNOPSIS
        The path of a Python 3.11 interpreter.
    .DESCRIPTION
        Tries the given path, else the py launcher (py -3.11), else the default
        all-users install folders. Throws if none is Python 3.11.
    .PARAMETER Path
        A python.exe to use.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [string]$Path
    )

    $candidates = New-Object System.Collections.Generic.List[string]
    if ($Path) {
        $candidates.Add($Path)
    }
    else {
        $launcher = Get-Command -Name 'py.exe' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
        if ($null -ne $launcher) {
            try {
                $found = Invoke-CodebNative -FilePath $launcher.Source -ArgumentList @('-3.11', '-c', 'import sys; print(sys.executable)') -CaptureOutput
                $candidates.Add(($found | Select-Object -Last 1).Trim())
            }
            catch {
                Write-Verbose "The py launcher knows no Python 3.11: $($_.Exception.Message)"
            }
        }
        $candidates.Add((Join-Path $env:ProgramFiles 'Python311\python.exe'))
        $candidates.Add((Join-Path $env:SystemDrive 'Python311\python.exe'))
    }

    foreach ($candidate in $candidates) {
        if (-not (Test-Path -LiteralPath $candidate -PathType Leaf)) {
            continue
        }
        $version = Get-CodebPythonVersion -Path $candidate
        if ($version -eq '3.11') {
            return $candidate
        }
        Write-Verbose "$candidate is Python $version, not 3.11."
    }
    throw "Python 3.11 was not found (looked at: $($candidates -join ', ')). Install Python 3.11 for all users, or pass -PythonPath."
}

function Get-CodebPythonVersion {
    <#
    .SYNOPSIS
        The major.minor version of a Python interpreter, such as 3.11.
    .PARAMETER Path
        The python.exe.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $output = Invoke-CodebNative -FilePath $Path -ArgumentList @('-c', 'import sys; print("%d.%d" % sys.version_info[:2])') -CaptureOutput
    return ($output | Select-Object -Last 1).Trim()
}

function Test-CodebFastCgiApplication {
    <#
    .SYNOPSIS
        Whether IIS has a FastCGI application for the host venv's python.exe and wfastcgi.py.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout
    )

    Reset-IISServerManager -Confirm:$false
    $section = (Get-IISServerManager).GetApplicationHostConfiguration().GetSection('system.webServer/fastCgi')
    foreach ($application in $section.GetCollection()) {
        if ("$($application['fullPath'])" -eq $Layout.Python -and "$($application['arguments'])" -eq $Layout.WfastcgiScript) {
            return $true
        }
    }
    return $false
}
