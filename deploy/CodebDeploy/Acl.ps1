# Folder permissions: well-known and application pool SIDs, access rules, and
# the ACLs of a tenant's site folder and data folder.


function Get-CodebWellKnownSid {
    <#
    .SYNOPSIS
        The SID of a well-known account; SIDs, unlike names, are the same on
        every language of Windows.
    .PARAMETER Name
        System, Administrators, IisUsers (IIS_IUSRS) or CreatorOwner.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Principal.SecurityIdentifier])]
    param(
        [Parameter(Mandatory, Position = 0)]
        [ValidateSet('System', 'Administrators', 'IisUsers', 'CreatorOwner')]
        [string]$Name
    )

    $value = switch ($Name) {
        'System' { 'S-1-5-18' }
        'Administrators' { 'S-1-5-32-544' }
        'IisUsers' { 'S-1-5-32-568' }
        'CreatorOwner' { 'S-1-3-0' }
    }
    return New-Object System.Security.Principal.SecurityIdentifier($value)
}

function Get-CodebPoolSid {
    <#
    .SYNOPSIS
        The SID of the virtual account IIS AppPool\<pool>.
    .DESCRIPTION
        Throws if the application pool does not exist (yet).
    .PARAMETER PoolName
        The application pool's name.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.Principal.SecurityIdentifier])]
    param(
        [Parameter(Mandatory)]
        [string]$PoolName
    )

    $account = New-Object System.Security.Principal.NTAccount('IIS AppPool', $PoolName)
    try {
        return $account.Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        throw "The account 'IIS AppPool\$PoolName' is unknown: does the application pool '$PoolName' exist?"
    }
}

function New-CodebAccessRule {
    <#
    .SYNOPSIS
        An allow rule for a folder.
    .PARAMETER Identity
        Whom the rule is for (a SecurityIdentifier or NTAccount).
    .PARAMETER Rights
        The rights, such as ReadAndExecute or Modify.
    .PARAMETER Scope
        Tree: the folder, its subfolders and files. FolderOnly: the folder itself.
        ChildrenOnly: what is created inside it, not the folder itself.
    #>
    [CmdletBinding()]
    [OutputType([System.Security.AccessControl.FileSystemAccessRule])]
    param(
        [Parameter(Mandatory)]
        [System.Security.Principal.IdentityReference]$Identity,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemRights]$Rights,

        [ValidateSet('Tree', 'FolderOnly', 'ChildrenOnly')]
        [string]$Scope = 'Tree'
    )

    $inheritance = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    $propagation = [System.Security.AccessControl.PropagationFlags]::None
    switch ($Scope) {
        'FolderOnly' { $inheritance = [System.Security.AccessControl.InheritanceFlags]::None }
        'ChildrenOnly' { $propagation = [System.Security.AccessControl.PropagationFlags]::InheritOnly }
    }
    return New-Object System.Security.AccessControl.FileSystemAccessRule(
        $Identity, $Rights, $inheritance, $propagation, [System.Security.AccessControl.AccessControlType]::Allow)
}

function Set-CodebFolderAcl {
    <#
    .SYNOPSIS
        Make a folder's permissions exactly the given rules, unless they are so already.
    .DESCRIPTION
        Inheritance from the parent is cut; the rules propagate to everything
        below that inherits. Owner and audit settings are left alone. Get,
        compare, set: a folder whose explicit rules are these, with inheritance
        cut, is not touched, so a rerun changes nothing.
    .PARAMETER Path
        The folder.
    .PARAMETER Rule
        The rules it keeps (see New-CodebAccessRule).
    .OUTPUTS
        System.Boolean: whether the permissions were changed.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemAccessRule[]]$Rule
    )

    $folder = Get-Item -LiteralPath $Path -Force
    $current = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl = New-Object System.Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($entry in $Rule) {
        $acl.AddAccessRule($entry)
    }
    if ($current.AreAccessRulesProtected -and
        (Format-CodebAccessRule -Acl $current) -ceq (Format-CodebAccessRule -Acl $acl)) {
        Write-Verbose "The permissions of '$Path' are as they should be."
        return $false
    }
    $folder.SetAccessControl($acl)
    return $true
}

function Format-CodebAccessRule {
    <#
    .SYNOPSIS
        A folder ACL's explicit rules as one sorted text, for comparing two ACLs.
    .PARAMETER Acl
        The DirectorySecurity.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)]
        [System.Security.AccessControl.DirectorySecurity]$Acl
    )

    $rules = $Acl.GetAccessRules($true, $false, [System.Security.Principal.SecurityIdentifier])
    $lines = @($rules | ForEach-Object {
        '{0}|{1}|{2}|{3}|{4}' -f $_.IdentityReference.Value, [int]$_.FileSystemRights, [int]$_.InheritanceFlags,
            [int]$_.PropagationFlags, $_.AccessControlType
    } | Sort-Object)
    return ($lines -join "`n")
}

function Add-CodebFolderAccess {
    <#
    .SYNOPSIS
        Add one rule to a folder's permissions, keeping the others.
    .PARAMETER Path
        The folder.
    .PARAMETER Rule
        The rule to add (see New-CodebAccessRule).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.AccessControl.FileSystemAccessRule]$Rule
    )

    $folder = Get-Item -LiteralPath $Path -Force
    $acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl.AddAccessRule($Rule)
    $folder.SetAccessControl($acl)
}

function Remove-CodebFolderAccess {
    <#
    .SYNOPSIS
        Remove every explicit rule of one identity from a folder.
    .PARAMETER Path
        The folder.
    .PARAMETER Identity
        Whose rules to remove.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [System.Security.Principal.IdentityReference]$Identity
    )

    $folder = Get-Item -LiteralPath $Path -Force
    $acl = $folder.GetAccessControl([System.Security.AccessControl.AccessControlSections]::Access)
    $acl.PurgeAccessRules($Identity)
    $folder.SetAccessControl($acl)
}

function Set-CodebSiteAcl {
    <#
    .SYNOPSIS
        Lock a tenant's site folder to its own application pool.
    .DESCRIPTION
        The site folder (web.config, links to the code, App_Data) is readable by
        SYSTEM, Administrators and the tenant's pool identity only; no other
        site's pool can read it. Only the tenant's pool may change
        App_Data\<tenant>. The shared release behind the links is readable by
        IIS_IUSRS (see Initialize-CodebHost.ps1). Get, compare, set.
    .PARAMETER Paths
        The tenant's paths from Get-CodebTenantPath.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool> (see Get-CodebPoolSid).
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Paths,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    $site = Set-CodebFolderAcl -Path $Paths.SiteFolder -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl),
        (New-CodebAccessRule -Identity $PoolSid -Rights ReadAndExecute)
    )
    $data = Set-CodebTenantDataAcl -Paths $Paths -PoolSid $PoolSid
    return ($site -or $data)
}

function Set-CodebTenantDataAcl {
    <#
    .SYNOPSIS
        Make App_Data\<tenant> modifiable by the tenant's pool only (and by SYSTEM and Administrators).
    .DESCRIPTION
        Inheritance from the parent is cut, so whatever the data root grants
        (the site folder's read access, or the host data root's) does not reach
        the tenant's data: SYSTEM and Administrators have full control,
        IIS AppPool\<pool> may modify, and nobody else, no other pool, can
        even read it. Get, compare, set (Set-CodebFolderAcl).
    .PARAMETER Paths
        The tenant's paths from Get-CodebTenantPath.
    .PARAMETER PoolSid
        The SID of IIS AppPool\<pool>.
    .OUTPUTS
        System.Boolean: whether the permissions were changed.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)]
        [pscustomobject]$Paths,

        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$PoolSid
    )

    return (Set-CodebFolderAcl -Path $Paths.TenantData -Rule @(
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid System) -Rights FullControl),
        (New-CodebAccessRule -Identity (Get-CodebWellKnownSid Administrators) -Rights FullControl),
        (New-CodebAccessRule -Identity $PoolSid -Rights Modify)
    ))
}
