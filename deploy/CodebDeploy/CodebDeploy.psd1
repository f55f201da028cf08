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
    Description          = 'Shared helpers of the CodeB deployment scripts: names and paths, folder ACLs, IIS sites and application pools, TLS certificates, Python and native tools.'

    # Windows PowerShell 5.1, as the scripts require (#Requires -PSEdition Desktop).
    # They import IISAdministration themselves (Initialize-CodebHost.ps1 only
    # once IIS is installed), so it is no RequiredModule here.
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop')

    FunctionsToExport    = @(
        'Assert-CodebAdministrator',
        'Assert-CodebHostPrepared',
        'Assert-CodebTenantName',
        'ConvertTo-CodebHostName',
        'Find-CodebBindingConflict',
        'Find-CodebCertificate',
        'Get-CodebCertificate',
        'Get-CodebLayout',
        'Get-CodebPoolSid',
        'Get-CodebPython',
        'Get-CodebPythonVersion',
        'Get-CodebSelfSignedName',
        'Get-CodebSiteFolder',
        'Get-CodebSiteHostName',
        'Get-CodebTenantPath',
        'Get-CodebWellKnownSid',
        'Grant-CodebMailAccess',
        'Install-CodebSiteCode',
        'Invoke-CodebNative',
        'Invoke-CodebRobocopy',
        'Move-CodebFolder',
        'New-CodebAccessRule',
        'New-CodebAppPool',
        'New-CodebSelfSignedCertificate',
        'New-CodebSite',
        'Remove-CodebAppPool',
        'Remove-CodebSite',
        'Remove-CodebSiteCode',
        'Remove-CodebTree',
        'Revoke-CodebMailAccess',
        'Set-CodebFolderAcl',
        'Set-CodebSiteAcl',
        'Set-CodebTenantDataAcl',
        'Start-CodebAppPool',
        'Stop-CodebAppPool',
        'Test-CodebAppPool',
        'Test-CodebFastCgiApplication',
        'Test-CodebHttpPlatformHandler',
        'Test-CodebSite',
        'Write-CodebWebConfig'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
}
