# Folders: delete a tree without following links into the shared release, and
# rename a folder while a handle may still keep it busy for a moment.


function Remove-CodebTree {
    <#
    .SYNOPSIS
        Delete a file or folder tree without ever following a link.
    .DESCRIPTION
        A junction or symbolic link is removed as a link; what it points to (the
        shared release) is never entered. Windows PowerShell's
        Remove-Item -Recurse cannot promise that.
    .PARAMETER Path
        What to delete; nothing happens if it does not exist.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($null -eq $item) {
        return
    }
    $isLink = [bool]($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint)
    if ($item.PSIsContainer) {
        if (-not $isLink) {
            foreach ($child in @(Get-ChildItem -LiteralPath $item.FullName -Force)) {
                Remove-CodebTree -Path $child.FullName
            }
        }
        [System.IO.Directory]::Delete($item.FullName, $false)
    }
    else {
        if ($item.Attributes -band [System.IO.FileAttributes]::ReadOnly) {
            $item.Attributes = $item.Attributes -bxor [System.IO.FileAttributes]::ReadOnly
        }
        [System.IO.File]::Delete($item.FullName)
    }
}

function Move-CodebFolder {
    <#
    .SYNOPSIS
        Rename a folder on the same volume, retrying while a handle keeps it busy.
    .DESCRIPTION
        A virus scanner or a process that is just exiting can hold a file open
        for a moment after its application pool stopped.
    .PARAMETER Path
        The folder to move.
    .PARAMETER Destination
        Its new path (must not exist).
    .PARAMETER Attempts
        How often to try, one second apart.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [string]$Destination,

        [ValidateRange(1, 600)]
        [int]$Attempts = 30
    )

    for ($attempt = 1; $attempt -le $Attempts; $attempt++) {
        try {
            [System.IO.Directory]::Move($Path, $Destination)
            return
        }
        catch [System.IO.IOException] {
            if ($attempt -eq $Attempts) {
                throw "Could not move '$Path' to '$Destination': $($_.Exception.Message)"
            }
            Write-Verbose "'$Path' is busy ($($_.Exception.Message)); trying again."
            Start-Sleep -Seconds 1
        }
    }
}
