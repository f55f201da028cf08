# Mail: a tenant's pool may drop messages into the staging folder and the IIS
# SMTP Pickup folder (codeb/notify/mail.py writes there), and nothing more; or,
# when the host names a smarthost, the site's appSettings send mail there.


function Grant-CodebMailAccess {
    <#
    .SYNOPSIS
        Let a tenant's pool drop mail into the SMTP pickup folder.
    .DESCRIPTION
        The pool may create files in the staging folder and in Pickup, and list
        them; it cannot read another pool's message, since a staged file is
        readable only by its creator (CREATOR OWNER), SYSTEM and Administrators.
        A rename within the volume keeps those permissions.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    $rights = [System.Security.AccessControl.FileSystemRights]'ReadAndExecute, CreateFiles'
    foreach ($folder in @($Layout.Staging, $Layout.Pickup)) {
        if (-not (Test-Path -LiteralPath $folder -PathType Container)) {
            throw "'$folder' is missing: prepare the host with Initialize-CodebHost.ps1 first."
        }
        Add-CodebFolderAccess -Path $folder -Rule (New-CodebAccessRule -Identity $PoolSid -Rights $rights -Scope FolderOnly)
    }
}

function Revoke-CodebMailAccess {
    <#
    .SYNOPSIS
        Take back what Grant-CodebMailAccess gave a pool.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    foreach ($folder in @($Layout.Staging, $Layout.Pickup)) {
        if (Test-Path -LiteralPath $folder -PathType Container) {
            Remove-CodebFolderAccess -Path $folder -Identity $PoolSid
        }
    }
}

function Get-CodebSmtpAppSetting {
    <#
    .SYNOPSIS
        The site settings of the host's mail transport: CODEB_SMTP_HOST and its siblings.
    .DESCRIPTION
        Empty values (the Pickup folder) unless Initialize-CodebHost.ps1 -SmtpHost
        named a smarthost; codeb/notify/mail.py reads the same names. The password
        is never a setting: CODEB_SMTP_PASSWORD_FILE names the file that holds it.
    .PARAMETER Smtp
        The host's Smtp settings (Get-CodebHostSetting): Host, Port, StartTls, User, PasswordFile.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [hashtable]$Smtp
    )

    $names = [ordered]@{
        CODEB_SMTP_HOST          = 'Host'
        CODEB_SMTP_PORT          = 'Port'
        CODEB_SMTP_STARTTLS      = 'StartTls'
        CODEB_SMTP_USER          = 'User'
        CODEB_SMTP_PASSWORD_FILE = 'PasswordFile'
    }
    $settings = @{}
    foreach ($key in $names.Keys) {
        $value = $Smtp[$names[$key]]
        if ($null -eq $value) {
            $settings[$key] = ''
        }
        elseif ($value -is [bool]) {
            $settings[$key] = ([string]$value).ToLowerInvariant()
        }
        else {
            $settings[$key] = [string]$value
        }
    }
    return $settings
}
