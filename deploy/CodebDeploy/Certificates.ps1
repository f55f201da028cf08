# TLS certificates in Cert:\LocalMachine\My: check, find or pick one for a
# tenant's host names, or make a self-signed one for a test tenant.


function Get-CodebCertificateProblem {
    <#
    .SYNOPSIS
        Why a certificate cannot serve these host names; nothing if it can.
    .PARAMETER Certificate
        The certificate.
    .PARAMETER HostName
        The host names it must name (exactly, or through a one-label wildcard).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    if (-not $Certificate.HasPrivateKey) {
        'it has no private key'
    }
    $now = Get-Date
    if ($Certificate.NotBefore -gt $now -or $Certificate.NotAfter -le $now) {
        "it is valid from $($Certificate.NotBefore) to $($Certificate.NotAfter) only"
    }
    $names = @($Certificate.DnsNameList | ForEach-Object { "$($_.Unicode)".ToLowerInvariant() })
    foreach ($name in $HostName) {
        $parent = $name.Substring($name.IndexOf('.'))
        if (-not ($names -contains $name -or $names -contains "*$parent")) {
            "it does not name $name"
        }
    }
}

function Find-CodebCertificate {
    <#
    .SYNOPSIS
        The longest-valid certificate in Cert:\LocalMachine\My that serves every
        given host name, such as one an ACME client installed.
    .PARAMETER HostName
        The host names.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    Get-ChildItem -Path $script:CertificateStore |
        Where-Object { @(Get-CodebCertificateProblem -Certificate $_ -HostName $HostName).Count -eq 0 } |
        Sort-Object -Property NotAfter -Descending |
        Select-Object -First 1
}

function Get-CodebCertificate {
    <#
    .SYNOPSIS
        A certificate from Cert:\LocalMachine\My by thumbprint, checked for these host names.
    .PARAMETER Thumbprint
        The certificate's SHA-1 thumbprint.
    .PARAMETER HostName
        The host names it must serve.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    $certificate = Get-Item -LiteralPath (Join-Path $script:CertificateStore $Thumbprint.ToUpperInvariant()) -ErrorAction SilentlyContinue
    if ($null -eq $certificate) {
        throw "There is no certificate $Thumbprint in $script:CertificateStore."
    }
    $problems = @(Get-CodebCertificateProblem -Certificate $certificate -HostName $HostName)
    if ($problems.Count -gt 0) {
        throw "The certificate $Thumbprint cannot be used: $($problems -join '; ')."
    }
    return $certificate
}

function New-CodebSelfSignedCertificate {
    <#
    .SYNOPSIS
        A self-signed certificate for test tenants, in Cert:\LocalMachine\My.
    .DESCRIPTION
        Browsers do not trust it; passkeys and every sign-in need a trusted
        certificate in production.
    .PARAMETER Tenant
        The tenant name (goes into the friendly name).
    .PARAMETER HostName
        The host names it names.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Cryptography.X509Certificates.X509Certificate2])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant,

        [Parameter(Mandatory)]
        [string[]]$HostName
    )

    $parameters = @{
        DnsName           = $HostName
        CertStoreLocation = $script:CertificateStore
        FriendlyName      = Get-CodebSelfSignedName -Tenant $Tenant
        NotAfter          = (Get-Date).AddYears(1)
        KeyAlgorithm      = 'RSA'
        KeyLength         = 2048
        HashAlgorithm     = 'SHA256'
        KeyExportPolicy   = 'NonExportable'
    }
    return New-SelfSignedCertificate @parameters
}

function Get-CodebSelfSignedName {
    <#
    .SYNOPSIS
        The friendly name of a tenant's self-signed certificate.
    .PARAMETER Tenant
        The tenant name.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [string]$Tenant
    )

    return "CodeB $Tenant (self-signed)"
}
