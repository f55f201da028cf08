# TURN per tenant: each tenant's shared secrets (python -m codeb turn show TENANT, its
# "coturn" part) written where the host's coturn reads them.
#
# One coturn serves every tenant of the host. Its TURN REST API mode (use-auth-secret)
# accepts a credential made with any of its static-auth-secret values, so each tenant
# keeps a secret of its own (rotated on its own, never known to another tenant) while
# they share the relay. coturn has no include directive and one realm per listener
# (a per-realm secret in its database is chosen by the ORIGIN attribute, which browsers
# do not send), so the tenants' lines are assembled with the operator's base file into
# the one turnserver.conf coturn reads, and the realm is the base file's.
#
#   <root>\turn\turnserver.base.conf    the operator's: listening-ip, ports, relay range,
#                                        denied-peer-ip, realm, certificates
#   <root>\turn\tenants\<tenant>.conf    one tenant's lines (Set-CodebTurnTenant)
#   <Turn.Config> (host.json)            what coturn reads; default <root>\turn\turnserver.conf


function Get-CodebTurnPath {
    <#
    .SYNOPSIS
        The files of the TURN configuration: the base, the tenants' folder, what coturn reads.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER Turn
        The host's Turn settings (Get-CodebHostSetting): Config, Base, Service.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [hashtable]$Turn
    )

    $config = Join-Path $Layout.Turn 'turnserver.conf'
    if ($Turn['Config']) {
        $config = [string]$Turn['Config']
    }
    $base = Join-Path $Layout.Turn 'turnserver.base.conf'
    if ($Turn['Base']) {
        $base = [string]$Turn['Base']
    }
    [pscustomobject]@{
        Base    = $base
        Tenants = Join-Path $Layout.Turn 'tenants'
        Config  = $config
    }
}

function Set-CodebTurnTenant {
    <#
    .SYNOPSIS
        Write one tenant's TURN secrets into <root>\turn\tenants\<tenant>.conf, unless they are there.
    .DESCRIPTION
        Get, compare, set. The lines are static-auth-secret=<secret>, the current
        secret first and, during a rotation, the previous one (python -m codeb turn
        show TENANT gives both while credentials made with the previous may live).
        The tenant's realm is kept as a comment: the shared coturn has one.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER Turn
        The host's Turn settings.
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER Realm
        The tenant's realm.
    .PARAMETER Secret
        The secrets coturn must accept for the tenant.
    .OUTPUTS
        System.Boolean: whether the file changed.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [hashtable]$Turn,

        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string]$Realm,

        [Parameter(Mandatory)]
        [string[]]$Secret
    )

    Assert-CodebTenantName -Name $Tenant
    foreach ($value in $Secret) {
        # A secret is base64 text (codeb/rooms/turn.py): nothing that could end the line.
        if ($value -cnotmatch '^[A-Za-z0-9+/=]{16,}$') {
            throw "The TURN secret of tenant '$Tenant' is not base64 text."
        }
    }
    $paths = Get-CodebTurnPath -Layout $Layout -Turn $Turn
    $null = New-Item -ItemType Directory -Path $paths.Tenants -Force -Confirm:$false
    $null = Set-CodebFolderAcl -Path $Layout.Turn -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl)
    )
    $lines = @("# CodeB tenant $Tenant (realm $Realm)")
    $lines += @($Secret | ForEach-Object { "static-auth-secret=$_" })
    $content = ($lines -join "`n") + "`n"
    return (Write-CodebTextFile -Path (Join-Path $paths.Tenants "$Tenant.conf") -Content $content)
}

function Remove-CodebTurnTenant {
    <#
    .SYNOPSIS
        Remove one tenant's TURN secrets; whether there were any.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER Turn
        The host's Turn settings.
    .PARAMETER Tenant
        The tenant name.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [hashtable]$Turn,

        [Parameter(Mandatory)]
        [string]$Tenant
    )

    Assert-CodebTenantName -Name $Tenant
    $file = Join-Path (Get-CodebTurnPath -Layout $Layout -Turn $Turn).Tenants "$Tenant.conf"
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) {
        return $false
    }
    Remove-Item -LiteralPath $file -Force -Confirm:$false
    return $true
}

function Update-CodebTurnConfig {
    <#
    .SYNOPSIS
        Assemble what coturn reads from the operator's base file and every tenant's
        lines; restart coturn's service when it changed.
    .DESCRIPTION
        Get, compare, set: the file is written, and the service (host.json
        Turn.Service, if the host runs coturn as a Windows service) restarted,
        only when the assembled text differs from what is there. coturn reads
        static-auth-secret only when it starts.
    .PARAMETER Layout
        The host layout from Get-CodebLayout.
    .PARAMETER Turn
        The host's Turn settings.
    .OUTPUTS
        System.Boolean: whether the configuration changed.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Layout,

        [Parameter(Mandatory)]
        [hashtable]$Turn
    )

    $paths = Get-CodebTurnPath -Layout $Layout -Turn $Turn
    if (-not (Test-Path -LiteralPath $paths.Base -PathType Leaf)) {
        throw "The TURN server's base configuration '$($paths.Base)' is missing: write coturn's listening, relay and realm settings there."
    }
    $base = @(Get-Content -LiteralPath $paths.Base -Encoding UTF8 |
        Where-Object { $_ -notmatch '^\s*(use-auth-secret|static-auth-secret|lt-cred-mech)\b' })
    $lines = @('# Written by the CodeB deployment scripts (Update-CodebTurnConfig): edit the base file instead.') + $base
    $lines += @('', 'use-auth-secret')
    if (Test-Path -LiteralPath $paths.Tenants -PathType Container) {
        foreach ($file in @(Get-ChildItem -LiteralPath $paths.Tenants -Filter '*.conf' -File | Sort-Object -Property Name)) {
            $lines += @(Get-Content -LiteralPath $file.FullName -Encoding UTF8)
        }
    }
    $changed = Write-CodebTextFile -Path $paths.Config -Content (($lines -join "`n") + "`n")
    if ($changed -and $Turn['Service']) {
        Restart-Service -Name ([string]$Turn['Service']) -Confirm:$false
    }
    return $changed
}
