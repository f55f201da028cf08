# Native programs: run one with a checked exit code, and mirror folders with
# robocopy (whose exit codes 1 to 7 mean success too).


function Invoke-CodebNative {
    <#
    .SYNOPSIS
        Run a native program and throw if its exit code is not zero.
    .DESCRIPTION
        Output goes to the host, or is returned with -CaptureOutput. Variables in
        -Environment are set for the run and restored afterwards; a $null value
        removes the variable for the run.
    .PARAMETER FilePath
        The program to run.
    .PARAMETER ArgumentList
        Its arguments, one element each (no quoting needed).
    .PARAMETER WorkingDirectory
        The folder to run it in.
    .PARAMETER Environment
        Process environment variables for the run.
    .PARAMETER CaptureOutput
        Return the program's output lines instead of showing them.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [ValidateNotNullOrEmpty()]
        [string]$FilePath,

        [string[]]$ArgumentList = @(),

        [string]$WorkingDirectory,

        [hashtable]$Environment = @{},

        [switch]$CaptureOutput
    )

    # Windows PowerShell turns each stderr line of a native program into an
    # error record; with 'Stop' the first warning pip prints would abort.
    # The exit code decides instead.
    $ErrorActionPreference = 'Continue'

    $saved = @{}
    foreach ($key in $Environment.Keys) {
        $saved[$key] = [Environment]::GetEnvironmentVariable($key, 'Process')
        [Environment]::SetEnvironmentVariable($key, $Environment[$key], 'Process')
    }
    if ($WorkingDirectory) {
        Push-Location -LiteralPath $WorkingDirectory
    }
    try {
        Write-Verbose "Running: $FilePath $($ArgumentList -join ' ')"
        if ($CaptureOutput) {
            $output = @(& $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" })
        }
        else {
            & $FilePath @ArgumentList 2>&1 | ForEach-Object { Write-Host "    $_" }
        }
        $exitCode = $LASTEXITCODE
    }
    finally {
        if ($WorkingDirectory) {
            Pop-Location
        }
        foreach ($key in $saved.Keys) {
            [Environment]::SetEnvironmentVariable($key, $saved[$key], 'Process')
        }
    }

    if ($exitCode -ne 0) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $exitCode."
    }
    if ($CaptureOutput) {
        return $output
    }
}

function Invoke-CodebRobocopy {
    <#
    .SYNOPSIS
        Mirror one folder into another with robocopy /MIR.
    .DESCRIPTION
        Copies data, attributes and timestamps (not ACLs: the copies inherit the
        destination's permissions). Robocopy exit codes 0 to 7 mean success;
        8 and above throw.
    .PARAMETER Source
        The folder to copy.
    .PARAMETER Destination
        The folder to make identical to Source (created if missing).
    .PARAMETER ExcludeDirectory
        Folder names to skip (robocopy /XD).
    .PARAMETER ExcludeFile
        File names or wildcards to skip (robocopy /XF).
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param(
        [Parameter(Mandatory)]
        [string]$Source,

        [Parameter(Mandatory)]
        [string]$Destination,

        [string[]]$ExcludeDirectory = @(),

        [string[]]$ExcludeFile = @()
    )

    $arguments = @(
        (Format-CodebRobocopyPath $Source),
        (Format-CodebRobocopyPath $Destination),
        '/MIR', '/COPY:DAT', '/DCOPY:DAT', '/XJ', '/R:2', '/W:1', '/NP', '/NFL', '/NDL'
    )
    if ($ExcludeDirectory.Count -gt 0) {
        $arguments += '/XD'
        $arguments += $ExcludeDirectory
    }
    if ($ExcludeFile.Count -gt 0) {
        $arguments += '/XF'
        $arguments += $ExcludeFile
    }

    $ErrorActionPreference = 'Continue'
    Write-Verbose "robocopy $($arguments -join ' ')"
    $output = @(& robocopy.exe @arguments 2>&1 | ForEach-Object { "$_" })
    $exitCode = $LASTEXITCODE
    if ($exitCode -ge 8) {
        $output | ForEach-Object { Write-Host "    $_" }
        throw "robocopy from '$Source' to '$Destination' failed with exit code $exitCode."
    }
    Write-Verbose ($output -join [Environment]::NewLine)
    return $exitCode
}

function Format-CodebRobocopyPath {
    <#
    .SYNOPSIS
        A path as robocopy wants it: no trailing backslash (except a drive root).
    .PARAMETER Path
        A folder path.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [string]$Path
    )

    $full = [System.IO.Path]::GetFullPath($Path)
    if ($full.Length -gt 3) {
        $full = $full.TrimEnd('\')
    }
    return $full
}
