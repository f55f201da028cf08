# The module manifest of the shared helpers of the CodeB deployment scripts.
# The scripts in deploy\ import this file (not CodebDeploy.psm1): it names the
# functions they call, and only those. Every other function of the module is
# one of its helpers and stays private.
@{
    RootModule           = 'CodebDeploy.psm1'
    ModuleVersion        = '1.0.0'
    GUID                 = '1a4bdc4f-a1e4-4528-8315-cf1834b873b4'
    Author               = 'CodeB'
    CompanyName          = 'CodeB'
    Copyright            = '(c) CodeB. All rights reserved.'
    Description          = 'Shared helpers of the CodeB deployment scripts: names and paths, folder ACLs, IIS sites and application pools, TLS certificates (ACME or self-signed), the sign-up site of the host, TURN, the provisioning worker and back-channel logout tasks, Python and native tools.'

    # Windows PowerShell 5.1, as the scripts require (#Requires -PSEdition Desktop).
    # They import IISAdministration themselves (Initialize-CodebHost.ps1 only
    # once IIS is installed), so it is no RequiredModule here.
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop')

    FunctionsToExport    = @(
        'Assert-CodebAdministrator',
        'Assert-CodebHostPrepared',
        'Assert-CodebSiteServes',
        'Assert-CodebTenantName',
        'ConvertTo-CodebHostName',
        'Find-CodebBindingConflict',
        'Find-CodebCertificate',
        'Get-CodebAcmeName',
        'Get-CodebCertificate',
        'Get-CodebHostSetting',
        'Get-CodebHostSitePath',
        'Get-CodebLayout',
        'Get-CodebPlanItem',
        'Get-CodebPoolSid',
        'Get-CodebProvisioningPlan',
        'Get-CodebProvisioningRequest',
        'Get-CodebPython',
        'Get-CodebPythonVersion',
        'Get-CodebSelfSignedName',
        'Get-CodebSiteCertificate',
        'Get-CodebSiteFolder',
        'Get-CodebSiteHostName',
        'Get-CodebSmtpAppSetting',
        'Get-CodebTenantCertificate',
        'Get-CodebTenantPath',
        'Get-CodebTurnPath',
        'Get-CodebWellKnownSid',
        'Grant-CodebMailAccess',
        'Install-CodebHostSite',
        'Install-CodebSiteCode',
        'Invoke-CodebNative',
        'Invoke-CodebPython',
        'Invoke-CodebRobocopy',
        'Move-CodebFolder',
        'New-CodebAccessRule',
        'New-CodebAppPool',
        'New-CodebSelfSignedCertificate',
        'New-CodebSite',
        'Register-CodebBackchannelTask',
        'Register-CodebProvisioningTask',
        'Remove-CodebAcmeRenewal',
        'Remove-CodebAppPool',
        'Remove-CodebSite',
        'Remove-CodebSiteCode',
        'Remove-CodebTree',
        'Remove-CodebTurnTenant',
        'Resolve-CodebTenantPath',
        'Revoke-CodebMailAccess',
        'Set-CodebFolderAcl',
        'Set-CodebHostDataAcl',
        'Set-CodebHostSetting',
        'Set-CodebSiteAcl',
        'Set-CodebSiteBinding',
        'Set-CodebTenantDataAcl',
        'Set-CodebTurnTenant',
        'Start-CodebAppPool',
        'Stop-CodebAppPool',
        'Test-CodebAppPool',
        'Test-CodebCertificateInUse',
        'Test-CodebFastCgiApplication',
        'Test-CodebHostDns',
        'Test-CodebHttpPlatformHandler',
        'Test-CodebRewriteModule',
        'Test-CodebSite',
        'Update-CodebTurnConfig',
        'Write-CodebLog',
        'Write-CodebProvisioningReport',
        'Write-CodebTextFile',
        'Write-CodebWebConfig'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
}
