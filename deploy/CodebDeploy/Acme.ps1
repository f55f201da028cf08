# A tenant's TLS certificate as python -m codeb provision plan decides (certificate.source):
# "acme" from an ACME CA through win-acme (wacs.exe), validated by HTTP-01 through the
# tenant's own site and renewed by win-acme's scheduled task; "self-signed" for internal
# names that no public CA issues for.


function Get-CodebAcmeName {
    <#
    .SYNOPSIS
        The friendly name win-acme gives a tenant's certificate and its renewal.
    .PARAMETER Tenant
        The tenant name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant
    )

    return "CodeB $Tenant (ACME)"
}

function Find-CodebTenantCertificate {
    <#
    .SYNOPSIS
        The tenant's certificate of this source in Cert:\LocalMachine\My, if one serves
        every host name for at least MinimumDays more; nothing otherwise.
    .DESCRIPTION
        acme: a CA-issued one (its issuer is not its subject), such as the one win-acme
        installed (renewed 30 days before it expires). self-signed: the one
        New-CodebSelfSignedCertificate made for the tenant.
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER HostName
        The host names it must serve.
    .PARAMETER Source
        acme or self-signed, the plan's certificate.source.
    .PARAMETER MinimumDays
        How many more days it must be valid.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string[]]$HostName,

        [Parameter(Mandatory)]
        [ValidateSet('acme', 'self-signed')]
        [string]$Source,

        [ValidateRange(0, 365)]
        [int]$MinimumDays = 14
    )

    $selfSignedName = Get-CodebSelfSignedName -Tenant $Tenant
    $until = (Get-Date).AddDays($MinimumDays)
    Get-ChildItem -Path $script:CertificateStore |
        Where-Object {
            $selfSigned = $_.Subject -eq $_.Issuer
            $fits = if ($Source -eq 'acme') { -not $selfSigned } else { $selfSigned -and $_.FriendlyName -eq $selfSignedName }
            $fits -and $_.NotAfter -gt $until -and @(Get-CodebCertificateProblem -Certificate $_ -HostName $HostName).Count -eq 0
        } |
        Sort-Object -Property NotAfter -Descending |
        Select-Object -First 1
}

function New-CodebAcmeCertificate {
    <#
    .SYNOPSIS
        Get a certificate for a tenant's host names from the ACME CA with win-acme, and
        let win-acme renew it.
    .DESCRIPTION
        Runs wacs.exe unattended: the host names as a manual source, HTTP-01 validation
        by files in the site folder's .well-known\acme-challenge (which the site's
        web.config serves as static files over HTTP, without redirecting them), the
        certificate into Cert:\LocalMachine\My, and the site's HTTPS bindings as its
        installation, so that each renewal (win-acme's scheduled task) binds the new
        certificate by itself. The host names must resolve to this server and port
        80 must reach it.
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER HostName
        The host names.
    .PARAMETER SiteName
        The tenant's IIS site.
    .PARAMETER SiteFolder
        The site's physical folder (win-acme's webroot).
    .PARAMETER Acme
        The host's Acme settings (Get-CodebHostSetting): Wacs, Email and optionally BaseUri.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string[]]$HostName,

        [Parameter(Mandatory)]
        [string]$SiteName,

        [Parameter(Mandatory)]
        [string]$SiteFolder,

        [Parameter(Mandatory)]
        [hashtable]$Acme
    )

    if (-not $Acme['Wacs'] -or -not (Test-Path -LiteralPath $Acme['Wacs'] -PathType Leaf)) {
        throw 'No ACME client: install win-acme and run Initialize-CodebHost.ps1 -WacsPath C:\path\to\wacs.exe -AcmeEmail you@example.com.'
    }
    if (-not $Acme['Email']) {
        throw 'The ACME account needs an e-mail address: Initialize-CodebHost.ps1 -AcmeEmail you@example.com.'
    }
    Reset-IISServerManager -Confirm:$false
    $site = Get-IISSite -Name $SiteName
    if ($null -eq $site) {
        throw "There is no IIS site '$SiteName' to validate and install the certificate through."
    }
    $arguments = @(
        '--source', 'manual', '--host', ($HostName -join ','), '--friendlyname', (Get-CodebAcmeName -Tenant $Tenant),
        '--validation', 'filesystem', '--webroot', $SiteFolder,
        '--store', 'certificatestore', '--certificatestore', 'My',
        '--installation', 'iis', '--installationsiteid', [string]$site.Id,
        '--accepttos', '--emailaddress', [string]$Acme['Email'], '--closeonfinish'
    )
    if ($Acme['BaseUri']) {
        $arguments += @('--baseuri', [string]$Acme['BaseUri'])
    }
    Invoke-CodebNative -FilePath $Acme['Wacs'] -ArgumentList $arguments
    $certificate = Find-CodebTenantCertificate -Tenant $Tenant -HostName $HostName -Source acme
    if ($null -eq $certificate) {
        throw "wacs.exe finished, but Cert:\LocalMachine\My has no CA-issued certificate for $($HostName -join ', ')."
    }
    return $certificate
}

function Remove-CodebAcmeRenewal {
    <#
    .SYNOPSIS
        Stop win-acme renewing a removed tenant's certificate.
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER Acme
        The host's Acme settings (Get-CodebHostSetting).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [hashtable]$Acme
    )

    if (-not $Acme['Wacs'] -or -not (Test-Path -LiteralPath $Acme['Wacs'] -PathType Leaf)) {
        return
    }
    Invoke-CodebNative -FilePath $Acme['Wacs'] -ArgumentList @(
        '--cancel', '--friendlyname', (Get-CodebAcmeName -Tenant $Tenant), '--closeonfinish')
}

function Get-CodebTenantCertificate {
    <#
    .SYNOPSIS
        The tenant's certificate from the source the plan names: the one there is, else a new one.
    .DESCRIPTION
        Get, compare, set: a certificate of that source serving every host name for
        14 more days is used as it is; otherwise win-acme gets one (acme) or a
        self-signed one is made (self-signed).
    .PARAMETER Tenant
        The tenant name.
    .PARAMETER HostName
        The host names.
    .PARAMETER Source
        acme or self-signed.
    .PARAMETER SiteName
        The tenant's IIS site (ACME validates and installs through it).
    .PARAMETER SiteFolder
        The site folder.
    .PARAMETER Acme
        The host's Acme settings (Get-CodebHostSetting).
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string[]]$HostName,

        [Parameter(Mandatory)]
        [ValidateSet('acme', 'self-signed')]
        [string]$Source,

        [Parameter(Mandatory)]
        [string]$SiteName,

        [Parameter(Mandatory)]
        [string]$SiteFolder,

        [Parameter(Mandatory)]
        [hashtable]$Acme
    )

    $found = Find-CodebTenantCertificate -Tenant $Tenant -HostName $HostName -Source $Source
    if ($null -ne $found) {
        return $found
    }
    if ($Source -eq 'self-signed') {
        return (New-CodebSelfSignedCertificate -Tenant $Tenant -HostName $HostName)
    }
    return (New-CodebAcmeCertificate -Tenant $Tenant -HostName $HostName -SiteName $SiteName -SiteFolder $SiteFolder -Acme $Acme)
}
