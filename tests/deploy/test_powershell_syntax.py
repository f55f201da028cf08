"""The deployment scripts in deploy/ parse as PowerShell and keep their conventions.

No PowerShell runs here: the tree-sitter PowerShell grammar (PyPI packages
`tree-sitter` and `tree-sitter-powershell`) parses every deploy/*.ps1 and
*.psm1, and the checks read the syntax trees. The negative tests prove that the
grammar does reject broken PowerShell, so a clean parse means something.
"""

import ast
import ntpath
import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MODULE = DEPLOY / "CodebDeploy.psm1"
SCRIPTS = sorted(DEPLOY.glob("*.ps1"))
SOURCES = SCRIPTS + sorted(DEPLOY.glob("*.psm1"))

EXPECTED_SCRIPTS = {
    "Initialize-CodebHost.ps1",
    "New-CodebTenant.ps1",
    "Remove-CodebTenant.ps1",
    "Backup-CodebTenant.ps1",
    "Restore-CodebTenant.ps1",
}
TENANT_SCRIPTS = EXPECTED_SCRIPTS - {"Initialize-CodebHost.ps1"}
DESTRUCTIVE_SCRIPTS = {"Remove-CodebTenant.ps1", "Restore-CodebTenant.ps1"}

TENANT_PATTERN = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"

# The approved verbs (Get-Verb) that the module may use.
APPROVED_VERBS = {
    "Add", "Assert", "Clear", "ConvertFrom", "ConvertTo", "Copy", "Enable", "Disable", "Find", "Format",
    "Get", "Grant", "Install", "Invoke", "Move", "New", "Register", "Remove", "Rename", "Reset", "Resolve",
    "Restore", "Revoke", "Set", "Start", "Stop", "Test", "Uninstall", "Unregister", "Update", "Wait", "Write",
}

PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


# --- Reading syntax trees -----------------------------------------------------------


def walk(node, skip=()):
    """Every node below `node` (itself included), not descending into `skip` types."""
    yield node
    for child in node.children:
        if child.type in skip:
            continue
        yield from walk(child, skip)


def text(node) -> str:
    return node.text.decode("utf-8")


def syntax_errors(source: str) -> list[str]:
    """`line:column: ...` for every ERROR or MISSING node of the parse."""
    tree = PARSER.parse(source.encode("utf-8"))
    problems = []
    for node in walk(tree.root_node):
        line, column = node.start_point[0] + 1, node.start_point[1] + 1
        if node.is_missing:
            problems.append(f"{line}:{column}: missing {node.type!r}")
        elif node.is_error:
            snippet = text(node).splitlines()[0][:60] if text(node) else ""
            problems.append(f"{line}:{column}: cannot parse {snippet!r}")
    return problems


def unquote(literal: str) -> str:
    """The value of a PowerShell string literal ('verbatim' or "expandable" without variables)."""
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return literal[1:-1].replace("''", "'")
    if len(literal) >= 2 and literal[0] == literal[-1] == '"':
        return literal[1:-1]
    return literal


class Attribute:
    def __init__(self, node):
        name = next(c for c in node.children if c.type in ("attribute_name", "type_literal"))
        self.name = text(name).strip("[]")
        self.positional: list[str] = []
        self.named: dict[str, str] = {}
        for arguments in (c for c in node.children if c.type == "attribute_arguments"):
            for argument in (c for c in arguments.children if c.type == "attribute_argument"):
                key = next((c for c in argument.children if c.type == "simple_name"), None)
                values = [c for c in argument.children if c.type not in ("simple_name", "=")]
                value = unquote(text(values[0])) if values else "$true"
                if key is None:
                    self.positional.append(value)
                else:
                    self.named[text(key).lower()] = value


def attributes(node) -> list[Attribute]:
    """The attributes directly attached to a param block or a script parameter."""
    found = []
    for attribute_list in (c for c in node.children if c.type == "attribute_list"):
        found.extend(Attribute(a) for a in attribute_list.children if a.type == "attribute")
    return found


class ParamBlock:
    def __init__(self, node):
        self.node = node
        self.attributes = attributes(node)
        self.parameters: dict[str, list[Attribute]] = {}
        for parameter_list in (c for c in node.children if c.type == "parameter_list"):
            for parameter in (c for c in parameter_list.children if c.type == "script_parameter"):
                variable = next(c for c in parameter.children if c.type == "variable")
                self.parameters[text(variable).lstrip("$")] = attributes(parameter)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name.lower() == name.lower()), None)


def help_block(comments) -> str | None:
    """The comment-based help among `comments`: a <# #> block with a .SYNOPSIS."""
    for comment in comments:
        body = text(comment)
        if body.startswith("<#") and re.search(r"^\s*\.SYNOPSIS\b", body, re.M):
            return body
    return None


def help_keywords(help_text: str, keyword: str) -> list[str]:
    """The arguments of a help keyword, e.g. every name after .PARAMETER."""
    return re.findall(rf"^\s*\.{keyword}[ \t]+(\S+)", help_text, re.M | re.I)


def has_help_section(help_text: str, keyword: str) -> bool:
    return re.search(rf"^\s*\.{keyword}\b", help_text, re.M | re.I) is not None


def command_names(node, skip=()) -> list[str]:
    return [text(n) for n in walk(node, skip) if n.type == "command_name"]


def commands(node, name: str):
    """Command nodes that invoke `name`."""
    for n in walk(node):
        if n.type == "command":
            command_name = next((c for c in n.children if c.type == "command_name"), None)
            if command_name is not None and text(command_name).lower() == name.lower():
                yield n


def loop_variables(node) -> list[str]:
    """Variables of the foreach loops in `node`, not those of nested functions."""
    names = []
    for n in walk(node, skip=("function_statement",)):
        if n.type == "foreach_statement":
            variable = next(c for c in n.children if c.type == "variable")
            names.append(text(variable).lstrip("$"))
    return names


class Script:
    def __init__(self, path: Path):
        self.path = path
        self.source = path.read_text(encoding="utf-8-sig")
        self.tree = PARSER.parse(self.source.encode("utf-8"))
        self.root = self.tree.root_node
        block = next((c for c in self.root.children if c.type == "param_block"), None)
        self.param_block = ParamBlock(block) if block is not None else None
        self.body = next((c for c in self.root.children if c.type == "statement_list"), None)

    @property
    def help(self) -> str | None:
        end = self.param_block.node.start_byte if self.param_block else len(self.source)
        return help_block(c for c in self.root.children if c.type == "comment" and c.start_byte < end)

    def top_level(self, node_type: str):
        """Top-level statements of the script body of one type (not inside functions or blocks)."""
        return [c for c in self.body.children if c.type == node_type] if self.body else []


class Function:
    def __init__(self, node):
        self.node = node
        self.name = text(next(c for c in node.children if c.type == "function_name"))
        script_block = next(c for c in node.children if c.type == "script_block")
        block = next((c for c in script_block.children if c.type == "param_block"), None)
        self.param_block = ParamBlock(block) if block is not None else None
        end = block.start_byte if block is not None else script_block.end_byte
        self.help = help_block(
            n for n in walk(node, skip=("script_block_body",)) if n.type == "comment" and n.start_byte < end
        )


def module_functions() -> list[Function]:
    module = Script(MODULE)
    return [Function(n) for n in walk(module.root) if n.type == "function_statement"]


def tenant_name_violations(param_block: ParamBlock) -> list[str]:
    """Why the -Name parameter does not validate tenant names (empty if it does)."""
    if "Name" not in param_block.parameters:
        return ["there is no -Name parameter"]
    patterns = [a for a in param_block.parameters["Name"] if a.name.lower() == "validatepattern"]
    if not patterns:
        return ["-Name has no [ValidatePattern]"]
    problems = []
    if patterns[0].positional[:1] != [TENANT_PATTERN]:
        problems.append(f"-Name's pattern is {patterns[0].positional[:1]}, not {TENANT_PATTERN!r}")
    if patterns[0].named.get("options", "").lower() != "none":
        # ValidatePattern ignores case unless told otherwise: 'ACME' would pass.
        problems.append("-Name's [ValidatePattern] lacks Options = 'None' (case-sensitive)")
    return problems


# --- The grammar rejects broken PowerShell ----------------------------------------------

VALID = """\
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidatePattern('^[a-z]+$', Options = 'None')]
    [string]$Name
)
Set-StrictMode -Version Latest
$items = @{ Name = $Name; Count = 2 }
foreach ($item in $items.Keys) {
    if ($PSCmdlet.ShouldProcess($item, 'Show')) { Write-Output "item $item" }
}
"""

BROKEN = {
    "unclosed param block": VALID.replace("[string]$Name\n)", "[string]$Name\n"),
    "unclosed script block": VALID.rstrip().removesuffix("}"),
    "unterminated string": VALID.replace("'Show')", "'Show)"),
    "unclosed hashtable": VALID.replace("Count = 2 }", "Count = 2"),
    "missing if condition paren": VALID.replace("if ($PSCmdlet", "if $PSCmdlet"),
    "dangling pipe": VALID + "Get-ChildItem |\n",
    "stray closing paren": VALID + "Write-Output 'x')\n",
    "PowerShell 7 operator": VALID + "$value = $null ?? 'default'\n",
}


def test_a_valid_snippet_parses_cleanly():
    assert syntax_errors(VALID) == []


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_grammar_rejects_broken_powershell(case):
    assert syntax_errors(BROKEN[case]), f"the grammar accepted a snippet with an error: {case}"


def test_a_broken_copy_of_a_real_script_is_rejected():
    source = (DEPLOY / "New-CodebTenant.ps1").read_text(encoding="utf-8")
    assert syntax_errors(source) == []
    cut = source.rindex("}")
    assert syntax_errors(source[:cut] + source[cut + 1:])


def test_the_structural_checks_notice_a_missing_name_validation():
    script = PARSER.parse(b"param(\n    [string]$Name\n)\n$Name\n")
    block = ParamBlock(next(c for c in script.root_node.children if c.type == "param_block"))
    assert tenant_name_violations(block) == ["-Name has no [ValidatePattern]"]


# --- Every file parses ------------------------------------------------------------------


def test_the_deploy_folder_has_every_script():
    assert EXPECTED_SCRIPTS <= {p.name for p in SCRIPTS}
    assert MODULE.exists()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_parses_without_syntax_errors(path):
    errors = syntax_errors(path.read_text(encoding="utf-8-sig"))
    assert errors == [], f"{path.name}:\n" + "\n".join(errors)


# --- Script conventions -----------------------------------------------------------------


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_has_comment_based_help_for_every_parameter(path):
    script = Script(path)
    assert script.param_block is not None, "the script has no param() block"
    assert script.help, "no comment-based help (<# .SYNOPSIS ... #>) before param()"
    for section in ("SYNOPSIS", "DESCRIPTION", "EXAMPLE"):
        assert has_help_section(script.help, section), f"the help has no .{section}"
    documented = {name.lower() for name in help_keywords(script.help, "PARAMETER")}
    declared = {name.lower() for name in script.param_block.parameters}
    assert documented == declared, f"documented {sorted(documented)}, declared {sorted(declared)}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_is_an_advanced_script_with_should_process(path):
    script = Script(path)
    binding = script.param_block.attribute("CmdletBinding")
    assert binding is not None, "no [CmdletBinding()] on the script's param block"
    assert binding.named.get("supportsshouldprocess") == "$true"
    assert "$PSCmdlet.ShouldProcess(" in script.source
    if path.name in DESTRUCTIVE_SCRIPTS:
        assert binding.named.get("confirmimpact") == "High"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_is_strict_and_stops_on_errors(path):
    script = Script(path)
    strict = [c for c in commands(script.body, "Set-StrictMode")]
    assert strict and re.search(r"-Version\s+Latest\b", text(strict[0])), "no Set-StrictMode -Version Latest"
    assert re.search(r"^\$ErrorActionPreference\s*=\s*'Stop'\s*$", script.source, re.M)
    assert re.search(r"^#Requires -RunAsAdministrator\s*$", script.source, re.M)
    assert re.search(r"^#Requires -Version 5\.1\s*$", script.source, re.M)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_the_shared_module(path):
    script = Script(path)
    imports = [text(c) for c in commands(script.body, "Import-Module")]
    assert any("$PSScriptRoot" in line and "CodebDeploy.psm1" in line for line in imports), imports


@pytest.mark.parametrize("path", sorted(DEPLOY / name for name in TENANT_SCRIPTS), ids=lambda p: p.name)
def test_tenant_name_is_validated(path):
    script = Script(path)
    assert tenant_name_violations(script.param_block) == []
    mandatory = [a for a in script.param_block.parameters["Name"] if a.name.lower() == "parameter"]
    assert mandatory and mandatory[0].named.get("mandatory") == "$true"
    assert any(text(c).startswith("Assert-CodebTenantName") for c in commands(script.body, "Assert-CodebTenantName"))


def test_the_tenant_pattern_is_the_applications():
    """Scripts and the application agree on what a tenant name is."""
    names = (ROOT / "codeb" / "store" / "names.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(names)):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TENANT_PATTERN" for t in node.targets):
            app_pattern = node.value.args[0].value
            break
    else:
        pytest.fail("codeb/store/names.py defines no TENANT_PATTERN")
    assert TENANT_PATTERN == f"^{app_pattern}$"
    assert f"'{TENANT_PATTERN}'" in MODULE.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_loop_variables_do_not_overwrite_parameters(path):
    """PowerShell names ignore case: `foreach ($name in ...)` would overwrite -Name."""
    script = Script(path)
    scopes = []
    if script.param_block is not None:
        scopes.append((path.name, script.param_block, script.body))
    for node in walk(script.root):
        if node.type == "function_statement":
            function = Function(node)
            if function.param_block is not None:
                scopes.append((function.name, function.param_block, node.child_by_field_name("body") or node))
    for scope, block, body in scopes:
        parameters = {name.lower() for name in block.parameters}
        clashes = [v for v in loop_variables(body) if v.lower() in parameters] if body is not None else []
        assert clashes == [], f"{scope}: foreach variables {clashes} overwrite parameters"


def test_scripts_only_call_functions_the_module_exports():
    functions = {f.name for f in module_functions()}
    module_source = MODULE.read_text(encoding="utf-8")
    exports = next(commands(Script(MODULE).body, "Export-ModuleMember"))
    exported = set(re.findall(r"'([A-Za-z]+-[A-Za-z]+)'", text(exports)))
    assert exported <= functions, f"exported but not defined: {sorted(exported - functions)}"
    for path in SCRIPTS:
        called = {name for name in command_names(Script(path).root) if "-Codeb" in name}
        unknown = called - exported
        assert not unknown, f"{path.name} calls {sorted(unknown)}, which CodebDeploy.psm1 does not export"
    # ... and the module's own calls resolve too.
    called = {name for name in command_names(Script(MODULE).root) if "-Codeb" in name}
    assert called <= functions, sorted(called - functions)
    assert "Set-StrictMode -Version Latest" in module_source


# --- Module conventions -----------------------------------------------------------------


@pytest.mark.parametrize("function", module_functions(), ids=lambda f: f.name)
def test_module_function_is_documented_and_advanced(function):
    verb, _, noun = function.name.partition("-")
    assert verb in APPROVED_VERBS, f"{verb} is not an approved PowerShell verb (Import-Module would warn)"
    assert re.fullmatch(r"Codeb[A-Z][A-Za-z]+", noun), "nouns start with Codeb"
    assert function.help, "no comment-based help with .SYNOPSIS"
    assert function.param_block is not None and function.param_block.attribute("CmdletBinding"), "no [CmdletBinding()]"
    documented = {name.lower() for name in help_keywords(function.help, "PARAMETER")}
    declared = {name.lower() for name in function.param_block.parameters}
    assert documented == declared, f"documented {sorted(documented)}, declared {sorted(declared)}"


def test_the_mail_folders_are_the_applications():
    """The ACLs go on the folders the app writes to (codeb/mail.py)."""
    mail = (ROOT / "codeb" / "mail.py").read_text(encoding="utf-8")
    pickup = next(
        node.value.value
        for node in ast.walk(ast.parse(mail))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "WINDOWS_PICKUP" for t in node.targets)
    )
    module = MODULE.read_text(encoding="utf-8")
    mail_root = re.search(r"^\$script:MailRoot = '([^']+)'", module, re.M).group(1)
    assert ntpath.join(mail_root, "Pickup") == pickup
    assert '"CodeB-Staging"' in mail and "Join-Path $script:MailRoot 'CodeB-Staging'" in module
