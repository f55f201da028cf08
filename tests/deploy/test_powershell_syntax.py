"""The deployment scripts in deploy/ parse as PowerShell and keep their conventions.

No PowerShell runs here: the tree-sitter PowerShell grammar (PyPI packages
`tree-sitter` and `tree-sitter-powershell`) parses every deploy/*.ps1 and every
file of the module folder deploy/CodebDeploy/ (manifest, loader, concern files),
and the checks read the syntax trees. The negative tests prove that the grammar
does reject broken PowerShell, so a clean parse means something.

The module is a manifest (CodebDeploy.psd1, a PowerShell hashtable, read here
from its syntax tree), a loader (CodebDeploy.psm1: strict mode, the shared
constants, one dot-source per concern file) and one .ps1 per concern. The
manifest exports exactly the functions the scripts call.

What the scripts hand to Python (`python -m codeb provision run --once`, `provision
report`, `provision plan`, `tenant remove`, `tenant reindex`, `turn show`, `backchannel
deliver`) is read from
the syntax trees and parsed by the application's own argument parser, and the names
the scripts give IIS (the pool and site codeb-<tenant>) are checked against
codeb/provisioning/plan.py. The host's own site (the sign-up page) is read the same way:
its pool and site codeb-host, its ACL rules, and its `host set` call, parsed and run.
"""

import ast
import json
import ntpath
import re
import uuid
from collections import Counter
from pathlib import Path, PureWindowsPath

import pytest
import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MODULE_DIR = DEPLOY / "CodebDeploy"
MANIFEST = MODULE_DIR / "CodebDeploy.psd1"
LOADER = MODULE_DIR / "CodebDeploy.psm1"
SCRIPTS = sorted(DEPLOY.glob("*.ps1"))
CONCERNS = sorted(MODULE_DIR.glob("*.ps1"))
# The PowerShell code of the module: the loader and every concern file.
MODULE_SOURCES = [LOADER] + CONCERNS
# Every file of the module folder, the manifest included.
MODULE_FILES = sorted(p for p in MODULE_DIR.iterdir() if p.is_file()) if MODULE_DIR.is_dir() else []
SOURCES = SCRIPTS + MODULE_FILES

EXPECTED_SCRIPTS = {
    "Initialize-CodebHost.ps1",
    "New-CodebTenant.ps1",
    "Remove-CodebTenant.ps1",
    "Backup-CodebTenant.ps1",
    "Restore-CodebTenant.ps1",
    "Invoke-CodebProvisioning.ps1",
    "Invoke-CodebBackchannel.ps1",
}
# The host-wide scripts: no -Name, they visit every tenant (or none).
HOST_SCRIPTS = {"Initialize-CodebHost.ps1", "Invoke-CodebProvisioning.ps1", "Invoke-CodebBackchannel.ps1"}
TENANT_SCRIPTS = EXPECTED_SCRIPTS - HOST_SCRIPTS
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


def functions_of(script: Script) -> list[Function]:
    return [Function(n) for n in walk(script.root) if n.type == "function_statement"]


def module_functions() -> list[Function]:
    """Every function the module defines, over the loader and all concern files."""
    return [f for path in MODULE_SOURCES if path.exists() for f in functions_of(Script(path))]


# --- Reading PowerShell data (the manifest, constants) ----------------------------------


def evaluate(node):
    """The value of a PowerShell data expression, as a .psd1 may hold it.

    Strings without variables, numbers, $true/$false/$null, @() and comma
    arrays (lists) and @{} hashtables (dicts with lowercase keys: PowerShell
    keys ignore case). Anything else, such as a variable or a command, raises
    ValueError: Import-PowerShellDataFile would not accept it either.
    """
    parts = [c for c in node.children if c.type not in ("comment", "empty_statement")]
    if node.type in ("string_literal", "integer_literal", "real_literal", "variable"):
        return constant(node)
    if node.type == "array_expression":
        values = []
        for block in (c for c in parts if c.type == "statement_list"):
            for statement in (c for c in block.children if c.type not in ("comment", "empty_statement")):
                value = evaluate(statement)
                values.extend(value if isinstance(value, list) else [value])
        return values
    if node.type == "array_literal_expression" and len(parts) > 1:
        return [evaluate(c) for c in parts if c.type != ","]
    if node.type == "hash_literal_expression":
        return hashtable(node)
    if len(parts) == 1 and node.type in DATA_WRAPPERS:
        return evaluate(parts[0])
    raise ValueError(f"not data: {node.type} {text(node)[:60]!r}")


def constant(node):
    """A string, number or $true/$false/$null literal."""
    literal = text(node)
    if node.type == "string_literal":
        if literal.startswith('"') and ("$" in literal or "`" in literal):
            raise ValueError(f"not a constant string: {literal}")
        return unquote(literal)
    if node.type == "variable":
        constants = {"$true": True, "$false": False, "$null": None}
        if literal.lower() not in constants:
            raise ValueError(f"a variable is not data: {literal}")
        return constants[literal.lower()]
    return ast.literal_eval(literal)


def hashtable(node) -> dict:
    """A @{} literal; keys are lowercased, and a key given twice is an error (as in PowerShell)."""
    table = {}
    for body in (c for c in node.children if c.type == "hash_literal_body"):
        for entry in (c for c in body.children if c.type == "hash_entry"):
            key_node = next(c for c in entry.children if c.type == "key_expression")
            key = unquote(text(key_node)).lower()
            if key in table:
                raise ValueError(f"the key {text(key_node)} appears twice")
            table[key] = evaluate(next(c for c in entry.children if c.type == "pipeline"))
    return table


# Expression nodes that only wrap one operand when no operator is present.
DATA_WRAPPERS = {
    "program", "statement_list", "pipeline", "pipeline_chain", "logical_expression", "bitwise_expression",
    "comparison_expression", "additive_expression", "multiplicative_expression", "format_expression",
    "range_expression", "array_literal_expression", "unary_expression",
}


def read_manifest(path: Path = MANIFEST) -> dict:
    source = path.read_text(encoding="utf-8-sig")
    tree = PARSER.parse(source.encode("utf-8"))
    value = evaluate(tree.root_node)
    assert isinstance(value, dict), f"{path.name} is not one hashtable"
    return value


def statements(script: Script) -> list:
    """The top-level statements of a script, comments left out."""
    return [c for c in script.body.children if c.type not in ("comment", "empty_statement")] if script.body else []


def assignment(statement):
    """(variable, value node) if `statement` assigns a variable, else None."""
    node = statement.children[0] if statement.type == "pipeline" and statement.children else None
    if node is None or node.type != "assignment_expression":
        return None
    left = next(c for c in node.children if c.type == "left_assignment_expression")
    variable = next((n for n in walk(left) if n.type == "variable"), None)
    value = node.children[-1]  # after the operator: a pipeline, or a statement such as switch
    return (text(variable) if variable is not None else text(left)), value


def single_command(statement):
    """The command node if `statement` is one command (no pipe, no assignment), else None."""
    if statement.type != "pipeline" or len(statement.children) != 1 or statement.children[0].type != "pipeline_chain":
        return None
    chain = statement.children[0]
    if len(chain.children) != 1 or chain.children[0].type != "command":
        return None
    return chain.children[0]


def is_dot_source(command) -> bool:
    operator = next((c for c in command.children if c.type == "command_invokation_operator"), None)
    return operator is not None and text(operator) == "."


def script_relative_path(node) -> str | None:
    """'X' when `node` is `(Join-Path $PSScriptRoot 'X')` (however wrapped), else None."""
    while node.type != "parenthesized_expression":
        parts = [c for c in node.children if c.type != "comment"]
        if len(parts) != 1:
            return None
        node = parts[0]
    pipeline = next((c for c in node.children if c.type == "pipeline"), None)
    command = single_command(pipeline) if pipeline is not None else None
    if command is None or text(next(c for c in command.children if c.type == "command_name")).lower() != "join-path":
        return None
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    arguments = [c for c in elements.children if c.type != "command_argument_sep"] if elements is not None else []
    if len(arguments) != 2 or text(arguments[0]).lower() != "$psscriptroot":
        return None
    literal = text(arguments[1])
    return unquote(literal) if literal.startswith("'") else None


def resolve(base: Path, relative: str) -> Path:
    """A Windows relative path (backslashes) under `base`."""
    return base.joinpath(*PureWindowsPath(relative).parts)


def dot_sourced(script: Script) -> list:
    """(command node, relative path or None) for every dot-source anywhere in `script`."""
    found = []
    for node in walk(script.root):
        if node.type == "command" and is_dot_source(node):
            target = next(c for c in node.children if c.type == "command_name_expr")
            found.append((node, script_relative_path(target)))
    return found


def loader_constants() -> dict:
    """The $script: variables the loader assigns at its top level: name -> value node."""
    constants = {}
    for statement in statements(Script(LOADER)):
        assigned = assignment(statement)
        if assigned is not None and assigned[0].lower().startswith("$script:"):
            constants[assigned[0].split(":", 1)[1]] = assigned[1]
    return constants


def functions_the_scripts_call() -> set[str]:
    """The module functions that the scripts call (anywhere: also in script blocks)."""
    defined = {f.name for f in module_functions()}
    return {name for path in SCRIPTS for name in command_names(Script(path).root) if name in defined}


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
    assert {p.name for p in SCRIPTS} >= EXPECTED_SCRIPTS
    assert MANIFEST.exists() and LOADER.exists()
    # The single-file module is gone: nothing can import it by its old path.
    assert sorted(p.name for p in DEPLOY.glob("*.psm1")) == []


def test_the_module_folder_holds_a_manifest_a_loader_and_concern_files():
    assert [p.name for p in MODULE_DIR.glob("*.psd1")] == [MANIFEST.name]
    assert [p.name for p in MODULE_DIR.glob("*.psm1")] == [LOADER.name]
    assert CONCERNS, "no concern files"
    others = [p.name for p in MODULE_FILES if p.suffix not in (".psd1", ".psm1", ".ps1")]
    assert others == [], f"unexpected files in {MODULE_DIR.name}: {others}"
    assert [p.name for p in MODULE_DIR.iterdir() if p.is_dir()] == [], "the module folder has no subfolders"


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
    strict = list(commands(script.body, "Set-StrictMode"))
    assert strict and re.search(r"-Version\s+Latest\b", text(strict[0])), "no Set-StrictMode -Version Latest"
    assert re.search(r"^\$ErrorActionPreference\s*=\s*'Stop'\s*$", script.source, re.M)
    assert re.search(r"^#Requires -RunAsAdministrator\s*$", script.source, re.M)
    assert re.search(r"^#Requires -Version 5\.1\s*$", script.source, re.M)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_imports_the_module_manifest(path):
    script = Script(path)
    imports = list(commands(script.body, "Import-Module"))
    targets = []
    for command in imports:
        elements = next((c for c in command.children if c.type == "command_elements"), None)
        arguments = [c for c in elements.children if c.type != "command_argument_sep"] if elements else []
        relative = script_relative_path(arguments[0]) if arguments else None
        if relative is not None:
            targets.append(resolve(path.parent, relative))
    lines = [text(c) for c in imports]
    assert any("$PSScriptRoot" in line for line in lines), lines
    assert MANIFEST in targets, f"{path.name} does not import {MANIFEST.relative_to(DEPLOY)}: {lines}"
    # The manifest decides the exports; importing the loader directly would bypass it.
    assert not any(".psm1" in line.lower() for line in lines), lines


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
    assert f"^{app_pattern}$" == TENANT_PATTERN
    assert f"'{TENANT_PATTERN}'" in LOADER.read_text(encoding="utf-8")
    assert evaluate(loader_constants()["TenantNamePattern"]) == TENANT_PATTERN


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
    exported = set(read_manifest()["functionstoexport"])
    assert exported <= functions, f"exported but not defined: {sorted(exported - functions)}"
    for path in SCRIPTS:
        called = {name for name in command_names(Script(path).root) if "-Codeb" in name}
        unknown = called - exported
        assert not unknown, f"{path.name} calls {sorted(unknown)}, which CodebDeploy.psd1 does not export"
    # ... and the module's own calls resolve too, in every file of it.
    for path in MODULE_SOURCES:
        called = {name for name in command_names(Script(path).root) if "-Codeb" in name}
        assert called <= functions, f"{path.name}: {sorted(called - functions)}"
    assert "Set-StrictMode -Version Latest" in LOADER.read_text(encoding="utf-8")


# --- The manifest -----------------------------------------------------------------------


def test_the_manifest_is_a_data_file_with_the_module_identity():
    manifest = read_manifest()
    assert re.fullmatch(r"\d+\.\d+(?:\.\d+){0,2}", manifest["moduleversion"]), manifest["moduleversion"]
    assert str(uuid.UUID(manifest["guid"])) == manifest["guid"].lower()
    assert manifest["author"] == "CodeB"
    assert manifest["companyname"] == "CodeB"
    assert manifest["powershellversion"] == "5.1"
    assert manifest["compatiblepseditions"] == ["Desktop"]
    # Empty lists, not wildcards: nothing but the named functions leaves the module.
    for key in ("cmdletstoexport", "variablestoexport", "aliasestoexport"):
        assert manifest[key] == [], f"{key} is {manifest[key]!r}, not @()"


def test_the_manifest_reader_reads_data_and_rejects_the_rest():
    tree = PARSER.parse(b"@{ RootModule = $name; FunctionsToExport = @('A-B') }")
    with pytest.raises(ValueError):
        evaluate(tree.root_node)
    tree = PARSER.parse(b"@{ A = 1; a = 2 }")
    with pytest.raises(ValueError):
        evaluate(tree.root_node)
    tree = PARSER.parse(b"@{ A = @('x', 'y'); B = @(); C = 'z', 'w'; D = @{ E = $true } }  # comment")
    assert evaluate(tree.root_node) == {"a": ["x", "y"], "b": [], "c": ["z", "w"], "d": {"e": True}}


def test_the_manifest_root_module_is_the_loader():
    root_module = read_manifest()["rootmodule"]
    path = resolve(MANIFEST.parent, root_module)
    assert path.exists(), f"RootModule {root_module!r} does not exist"
    assert path == LOADER


def test_the_manifest_exports_exactly_the_functions_the_scripts_call():
    exported = read_manifest()["functionstoexport"]
    assert isinstance(exported, list) and all(isinstance(name, str) for name in exported), exported
    assert not any("*" in name for name in exported), "FunctionsToExport names functions, no wildcards"
    duplicates = sorted(name for name, count in Counter(exported).items() if count > 1)
    assert duplicates == [], f"listed twice: {duplicates}"
    called = functions_the_scripts_call()
    assert set(exported) == called, (
        f"exported but no script calls it (keep it private): {sorted(set(exported) - called)}; "
        f"called but not exported: {sorted(called - set(exported))}"
    )


def test_every_function_is_defined_in_exactly_one_module_file():
    where: dict[str, list[str]] = {}
    for path in MODULE_SOURCES:
        for function in functions_of(Script(path)):
            where.setdefault(function.name, []).append(path.name)
    twice = {name: files for name, files in where.items() if len(files) > 1}
    assert twice == {}, f"defined more than once: {twice}"
    for name in read_manifest()["functionstoexport"]:
        assert len(where.get(name, [])) == 1, f"{name} is exported but defined in {where.get(name, [])}"
    # The scripts define none of the module's functions themselves.
    for path in SCRIPTS:
        shadowed = {f.name for f in functions_of(Script(path))} & set(where)
        assert not shadowed, f"{path.name} redefines {sorted(shadowed)}"


# --- The loader and the concern files ---------------------------------------------------


def test_the_loader_dot_sources_every_concern_file_and_nothing_else():
    loader = Script(LOADER)
    sources = dot_sourced(loader)
    unresolved = [text(node) for node, relative in sources if relative is None]
    assert unresolved == [], f"dot-sources not of the form . (Join-Path $PSScriptRoot 'File.ps1'): {unresolved}"
    # Only at the top level, never conditionally.
    top_level = {single_command(s) for s in statements(loader)}
    assert all(node in top_level for node, _ in sources), "a dot-source is nested in a block"
    loaded = [resolve(LOADER.parent, relative) for _, relative in sources]
    duplicates = sorted(p.name for p, count in Counter(loaded).items() if count > 1)
    assert duplicates == [], f"dot-sourced twice: {duplicates}"
    assert not [p for p in loaded if not p.exists()], f"missing: {[p.name for p in loaded if not p.exists()]}"
    assert sorted(p.name for p in loaded) == sorted(p.name for p in CONCERNS)


def test_the_loader_is_the_shared_preamble_only():
    """Strict mode and the constants, then the concern files: no functions, no other code."""
    loader = Script(LOADER)
    assert loader.help and has_help_section(loader.help, "DESCRIPTION"), "the loader describes the module"
    kinds = []
    for statement in statements(loader):
        command = single_command(statement)
        assigned = assignment(statement)
        if command is not None and is_dot_source(command):
            kinds.append("dot-source")
        elif command is not None and text(command).startswith("Set-StrictMode"):
            kinds.append("strict")
        elif assigned is not None and assigned[0] == "$ErrorActionPreference":
            assert evaluate(assigned[1]) == "Stop"
            kinds.append("stop")
        elif assigned is not None and assigned[0].startswith("$script:"):
            kinds.append("constant")
        else:
            pytest.fail(f"the loader holds more than the preamble: {text(statement)[:80]!r}")
    assert kinds[:2] == ["strict", "stop"], kinds
    first_dot_source = kinds.index("dot-source")
    assert set(kinds[first_dot_source:]) == {"dot-source"}, "the constants come before the concern files"
    # The manifest is the one list of exports.
    assert list(commands(loader.root, "Export-ModuleMember")) == []


@pytest.mark.parametrize("path", CONCERNS, ids=lambda p: p.name)
def test_a_concern_file_only_defines_functions(path):
    script = Script(path)
    assert script.param_block is None, "a concern file has no param() block"
    others = [text(s)[:80] for s in statements(script) if s.type != "function_statement"]
    assert others == [], f"top-level code outside functions (the loader's preamble is shared): {others}"
    assert functions_of(script), "no functions"
    assert dot_sourced(script) == [], "only the loader dot-sources"


@pytest.mark.parametrize("path", CONCERNS, ids=lambda p: p.name)
def test_a_concern_file_uses_only_the_loaders_constants(path):
    """Under Set-StrictMode a $script: variable nobody assigned is an error at run time."""
    constants = {name.lower() for name in loader_constants()}
    script = Script(path)
    variables = [text(n) for n in walk(script.root) if n.type == "variable"]
    used = {name.split(":", 1)[1] for name in variables if name.lower().startswith("$script:")}
    unknown = sorted(name for name in used if name.lower() not in constants)
    assert unknown == [], f"{path.name} uses $script: variables the loader does not set: {unknown}"
    for node in walk(script.root):
        if node.type == "assignment_expression":
            assigned = assignment(node.parent)
            assert not (assigned and assigned[0].lower().startswith("$script:")), f"{path.name} sets {assigned[0]}"


@pytest.mark.parametrize("path", SCRIPTS + MODULE_FILES + [DEPLOY / "README.md"], ids=lambda p: p.name)
def test_python_files_named_in_deploy_exist(path):
    """Comments that point at the application name its current files."""
    named = set(re.findall(r"\bcodeb/[\w/]+\.py\b", path.read_text(encoding="utf-8-sig")))
    missing = sorted(name for name in named if not (ROOT / name).is_file())
    assert missing == [], f"{path.name} names {missing}, which do not exist"


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
    """The ACLs go on the folders the app writes to (codeb/notify/mail.py)."""
    mail = (ROOT / "codeb" / "notify" / "mail.py").read_text(encoding="utf-8")
    pickup = next(
        node.value.value
        for node in ast.walk(ast.parse(mail))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "WINDOWS_PICKUP" for t in node.targets)
    )
    loader = LOADER.read_text(encoding="utf-8")
    mail_root = re.search(r"^\$script:MailRoot = '([^']+)'", loader, re.M).group(1)
    assert evaluate(loader_constants()["MailRoot"]) == mail_root
    assert ntpath.join(mail_root, "Pickup") == pickup
    layout = next(f for f in module_functions() if f.name == "Get-CodebLayout")
    assert "Join-Path $script:MailRoot 'Pickup'" in text(layout.node)
    assert '"CodeB-Staging"' in mail and "Join-Path $script:MailRoot 'CodeB-Staging'" in text(layout.node)


# --- One naming rule with the application (codeb/provisioning/plan.py) -------------------


def plan_constant(name: str):
    source = (ROOT / "codeb" / "provisioning" / "plan.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    pytest.fail(f"codeb/provisioning/plan.py defines no {name}")


def module_function(name: str) -> Function:
    return next(f for f in module_functions() if f.name == name)


def hash_entries(node) -> dict[str, str]:
    """key -> value text of every hashtable entry below `node`."""
    entries = {}
    for entry in (n for n in walk(node) if n.type == "hash_entry"):
        key = next(c for c in entry.children if c.type == "key_expression")
        value = next(c for c in entry.children if c.type == "pipeline")
        entries[text(key)] = text(value)
    return entries


def test_the_pool_and_site_names_are_the_plans():
    """The plan names the pool (and the site) codeb-<tenant>; so do the scripts, by one function."""
    from codeb.provisioning import plan
    from codeb.provisioning.names import MAX_LENGTH

    prefix = plan_constant("POOL_PREFIX")
    assert plan.pool_name("acme") == prefix + "acme"
    assert evaluate(loader_constants()["PoolPrefix"]) == prefix
    naming = text(module_function("Get-CodebPoolName").node)
    assert "$pool = $script:PoolPrefix + $Tenant" in naming
    paths = module_function("Get-CodebTenantPath")
    assert "$pool = Get-CodebPoolName -Tenant $Name" in text(paths.node)
    entries = hash_entries(paths.node)
    assert entries["SiteName"] == entries["PoolName"] == "$pool"
    # IIS refuses pool names over 64 characters: a sign-up subdomain (3..40) always fits.
    assert evaluate(loader_constants()["MaxPoolName"]) == 64 >= len(prefix) + MAX_LENGTH


POOL_AND_SITE_FUNCTIONS = {
    "Test-CodebAppPool", "New-CodebAppPool", "Remove-CodebAppPool", "Stop-CodebAppPool", "Start-CodebAppPool",
    "Get-CodebPoolSid", "Test-CodebSite", "New-CodebSite", "Remove-CodebSite", "Get-CodebSiteHostName",
    "Get-CodebSiteCertificate", "Set-CodebSiteBinding", "Assert-CodebSiteServes",
}


def named_arguments(command) -> dict[str, str]:
    """-parameter (lowercase) -> the text of the argument after it ('' for a switch) of one command."""
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    parts = [c for c in elements.children if c.type not in ("command_argument_sep", "comment")] if elements else []
    found = {}
    for index, part in enumerate(parts):
        if part.type == "command_parameter":
            following = parts[index + 1] if index + 1 < len(parts) else None
            value = text(following) if following is not None and following.type != "command_parameter" else ""
            found[text(part).rstrip(":").lower()] = value
    return found


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_pools_and_sites_are_named_by_the_tenant_paths(path):
    """No script names a pool or a site by the bare tenant name: always $paths.PoolName or SiteName."""
    script = Script(path)
    for name in POOL_AND_SITE_FUNCTIONS:
        for command in commands(script.root, name):
            arguments = named_arguments(command)
            given = arguments.get("-name", arguments.get("-poolname"))
            assert given in ("$paths.PoolName", "$paths.SiteName", "$poolName"), f"{name}: {text(command)[:80]}"


# --- What the scripts hand to python -m codeb --------------------------------------------


def array_items(node) -> list[str]:
    """The elements of an @(...) or comma list: string literals unquoted, variables as written."""
    if node.type == "string_literal":
        return [unquote(text(node))]
    if node.type in ("variable", "member_access"):
        return [text(node)]
    return [item for child in node.children for item in array_items(child)]


def python_calls(path: Path) -> list[list[str]]:
    """The -ArgumentList of every Invoke-CodebPython in a file: what follows python -m codeb.
    A variable there is followed to its assignment (`$arguments = @(...)`)."""
    script = Script(path)
    calls = []
    for command in commands(script.root, "Invoke-CodebPython"):
        value = named_arguments(command)["-argumentlist"]
        if value.startswith("$"):
            scope = command
            while scope.parent is not None and scope.type != "function_statement":
                scope = scope.parent
            assigned = next(n for n in walk(scope)
                            if n.type == "assignment_expression" and text(n).startswith(value + " = "))
            calls.append(array_items(assigned.children[-1]))
        else:
            elements = next(c for c in command.children if c.type == "command_elements")
            node = next(c for c in elements.children if text(c) == value)
            calls.append(array_items(node))
    return calls


SAMPLES = {"$Name": "acme", "$tenant": "acme", "$Tenant": "acme", "$ExportPath": r"D:\exports\acme.zip",
           "$RequestId": "0" * 32, "$Step": "iis", "$Result": "ok", "$line": "pool created"}


def parse_codeb(argv: list[str]):
    from codeb.cli import parser

    return parser().parse_args([SAMPLES.get(a, a) for a in argv])


def test_the_worker_runs_the_python_part_once_per_pass():
    from codeb.cli import provision, turn

    calls = python_calls(DEPLOY / "Invoke-CodebProvisioning.ps1")
    assert ["provision", "run", "--once"] in calls
    args = parse_codeb(["provision", "run", "--once"])
    assert args.func is provision.run and args.once is True
    assert ["turn", "show", "$tenant"] in calls
    assert parse_codeb(["turn", "show", "$tenant"]).func is turn.show
    worker = Script(DEPLOY / "Invoke-CodebProvisioning.ps1").source
    assert "$shown.coturn.realm" in worker and "$shown.coturn.static_auth_secrets" in worker


def test_the_worker_reports_each_windows_step_as_the_spool_knows_them():
    from codeb.cli import provision
    from codeb.provisioning import spool

    report = module_function("Write-CodebProvisioningReport")
    steps = next(a for a in report.param_block.parameters["Step"] if a.name == "ValidateSet")
    results = next(a for a in report.param_block.parameters["Result"] if a.name == "ValidateSet")
    assert tuple(steps.positional) == spool.WINDOWS_STEPS and results.positional == ["ok", "failed"]
    reported = next(c for c in python_calls(MODULE_DIR / "Provisioning.ps1") if c[:2] == ["provision", "report"])
    assert reported == ["provision", "report", "$RequestId", "$Step", "$Result", "--detail", "$line"]
    args = parse_codeb(reported)
    assert args.func is provision.report and (args.step, args.result, args.detail) == ("iis", "ok", "pool created")
    # The worker takes the requests whose Python part is done, and runs every Windows step.
    worker = Script(DEPLOY / "Invoke-CodebProvisioning.ps1")
    taken = [named_arguments(c).get("-state") for c in commands(worker.root, "Get-CodebProvisioningRequest")]
    assert taken == [f"'{spool.PYTHON_DONE}'"]
    table = next(n for n in walk(worker.root) if n.type == "hash_literal_expression" and "dns_check" in text(n))
    assert set(hash_entries(table)) == set(spool.WINDOWS_STEPS)
    outcomes = {named_arguments(c)["-result"] for c in commands(worker.root, "Write-CodebProvisioningReport")}
    assert outcomes == {"ok", "failed"}, "every step reports its success and its failure"


def test_the_plan_is_read_as_the_cli_gives_it():
    from codeb.cli import provision

    plan_call = next(c for c in python_calls(MODULE_DIR / "Provisioning.ps1") if c[:2] == ["provision", "plan"])
    assert plan_call == ["provision", "plan", "$Tenant"]
    args = parse_codeb(plan_call + ["--remove"])
    assert args.func is provision.plan_of and args.tenant == "acme" and args.remove is True
    assert "$arguments += '--remove'" in text(module_function("Get-CodebProvisioningPlan").node)


def test_the_certificate_follows_the_plans_source():
    from codeb.provisioning import plan

    sources = {plan.certificate_source(["login.acme.com"]), plan.certificate_source(["test1.codeb.test"])}
    for name in ("Find-CodebTenantCertificate", "Get-CodebTenantCertificate"):
        allowed = next(a for a in module_function(name).param_block.parameters["Source"] if a.name == "ValidateSet")
        assert set(allowed.positional) == sources == {"acme", "self-signed"}
    worker = Script(DEPLOY / "Invoke-CodebProvisioning.ps1").source
    assert "(Get-CodebPlanItem -Plan $plan -Item 'certificate').source" in worker
    acme = text(module_function("New-CodebAcmeCertificate").node)
    # HTTP-01 through the site's own folder, installed into the site so that renewals rebind.
    for argument in ("'--validation', 'filesystem', '--webroot', $SiteFolder", "'--installation', 'iis'",
                     "'--accepttos'"):
        assert argument in acme


def test_removal_exports_first_through_the_cli():
    from codeb.cli import tenant

    calls = python_calls(DEPLOY / "Remove-CodebTenant.ps1")
    assert calls == [["tenant", "remove", "$Name", "--export", "$ExportPath", "--yes"]]
    args = parse_codeb(calls[0])
    assert args.func is tenant.remove and args.yes is True and args.export == SAMPLES["$ExportPath"]
    source = Script(DEPLOY / "Remove-CodebTenant.ps1").source
    # The export comes before the site, pool and certificate go.
    assert source.index("'tenant', 'remove'") < source.index("Remove-CodebSite -Name")
    assert "Test-CodebCertificateInUse -Thumbprint" in source


def test_restore_reindexes_the_host_index_after_the_copy():
    from codeb.cli import tenant

    calls = python_calls(DEPLOY / "Restore-CodebTenant.ps1")
    assert calls == [["tenant", "reindex"]]
    assert parse_codeb(calls[0]).func is tenant.reindex
    source = Script(DEPLOY / "Restore-CodebTenant.ps1").source
    assert source.index("Move-CodebFolder -Path $incoming") < source.index("'tenant', 'reindex'")


# --- The scheduled task ----------------------------------------------------------------------


SCHEDULED_TASKS = {
    # public function -> (the loader's constants <prefix>Name and <prefix>Path, the task's name,
    # its interval as Task Scheduler keeps it, the variable and script Initialize-CodebHost gives it)
    "Register-CodebProvisioningTask": ("ProvisioningTask", "CodeB provisioning", "PT1M",
                                       "$workerScript", "Invoke-CodebProvisioning.ps1"),
    "Register-CodebBackchannelTask": ("BackchannelTask", "CodeB back-channel logout", "PT5M",
                                      "$backchannelScript", "Invoke-CodebBackchannel.ps1"),
}


def test_the_scheduled_tasks_run_as_system_never_twice_by_one_helper():
    """Both tasks are registered by one get-compare-set helper: SYSTEM, IgnoreNew, 30 minutes at most."""
    task = module_function("Register-CodebScriptTask").node
    assert "Register-CodebScriptTask" not in read_manifest()["functionstoexport"], "the helper stays private"
    settings = named_arguments(next(commands(task, "New-ScheduledTaskSettingsSet")))
    assert settings["-multipleinstances"] == "IgnoreNew"
    assert settings["-executiontimelimit"] == "(New-TimeSpan -Minutes 30)"
    trigger = named_arguments(next(commands(task, "New-ScheduledTaskTrigger")))
    assert "-once" in trigger and trigger["-repetitioninterval"] == "(New-TimeSpan -Minutes $Minutes)"
    principal = named_arguments(next(commands(task, "New-ScheduledTaskPrincipal")))
    assert (principal["-userid"], principal["-logontype"], principal["-runlevel"]) == (
        "'SYSTEM'", "ServiceAccount", "Highest")
    register = named_arguments(next(commands(task, "Register-ScheduledTask")))
    assert {"-action", "-trigger", "-settings", "-principal", "-force"} <= set(register)
    assert (register["-taskname"], register["-taskpath"]) == ("$TaskName", "$TaskPath")
    # The comparison that makes a rerun change nothing looks at the same settings: the interval as
    # Task Scheduler keeps it (PT<n>M, for 1 to 59 minutes: 60 would be PT1H).
    body = text(task)
    assert "$interval = 'PT{0}M' -f $Minutes" in body
    for compared in ("$trigger.Repetition.Interval -eq $interval", "'IgnoreNew'", "'Highest'",
                     "$action.Arguments -eq $arguments"):
        assert compared in body
    minutes = next(a for a in module_function("Register-CodebScriptTask").param_block.parameters["Minutes"]
                   if a.name == "ValidateRange")
    assert minutes.positional == ["1", "59"]


@pytest.mark.parametrize("public", sorted(SCHEDULED_TASKS))
def test_each_scheduled_task_has_its_name_interval_and_script(public):
    """\\CodeB\\<name>, every so many minutes (the trigger's New-TimeSpan, compared as PT<n>M), registered
    by Initialize-CodebHost.ps1 with the release's script, under ShouldProcess, unless -No<...>Task."""
    constant, name, interval, variable, script_name = SCHEDULED_TASKS[public]
    constants = loader_constants()
    assert (evaluate(constants[f"{constant}Name"]), evaluate(constants[f"{constant}Path"])) == (name, "\\CodeB\\")
    calls = [named_arguments(c) for c in commands(module_function(public).node, "Register-CodebScriptTask")]
    assert len(calls) == 1
    call = calls[0]
    assert (call["-taskname"], call["-taskpath"]) == (f"$script:{constant}Name", f"$script:{constant}Path")
    assert (call["-script"], call["-root"]) == ("$Script", "$Root")
    assert script_name in unquote(call["-description"])
    # The trigger repeats every -Minutes (New-TimeSpan -Minutes <n>); the comparison of a rerun
    # expects the interval Task Scheduler then keeps, the helper's format applied to the same number.
    helper = text(module_function("Register-CodebScriptTask").node)
    form = re.search(r"\$interval = '([^']+)' -f \$Minutes", helper).group(1)
    assert form.format(int(call["-minutes"])) == interval
    initialize = Script(DEPLOY / "Initialize-CodebHost.ps1")
    registered = [named_arguments(c) for c in commands(initialize.root, public)]
    assert registered == [{"-script": variable, "-root": "$layout.Root"}]
    assert f"{variable} = Join-Path $layout.App 'deploy\\{script_name}'" in initialize.source
    asked = enclosing_should_process(next(commands(initialize.root, public))) or ""
    assert f"$PSCmdlet.ShouldProcess('\\CodeB\\{name}'" in asked
    switch = "No" + constant  # -NoProvisioningTask, -NoBackchannelTask
    assert switch in initialize.param_block.parameters and f"-not ${switch} -and" in asked
    assert (DEPLOY / script_name).is_file()


# --- Back-channel logout deliveries ----------------------------------------------------------

BACKCHANNEL = DEPLOY / "Invoke-CodebBackchannel.ps1"


def test_the_backchannel_task_delivers_for_each_tenant_as_the_cli_parses_it():
    """python -m codeb backchannel deliver <tenant> on the tenant's data root, for every tenant once."""
    from codeb.cli import backchannel

    calls = python_calls(BACKCHANNEL)
    assert calls == [["backchannel", "deliver", "$tenant"]]
    args = parse_codeb(calls[0])
    assert args.func is backchannel.deliver and args.tenant == "acme"
    script = Script(BACKCHANNEL)
    call = next(commands(script.root, "Invoke-CodebPython"))
    assert named_arguments(call)["-dataroot"] == "$paths.DataRoot"
    assert "(python -m codeb backchannel deliver)" in (enclosing_should_process(call) or ""), "-WhatIf sends nothing"
    # Every tenant, once: the site folders and the host data root's tenants (those with tenant.json).
    source = script.source
    assert "Get-CodebSiteFolder -Layout $layout" in source
    assert "Get-ChildItem -LiteralPath $layout.Data -Directory" in source
    assert "'tenant.json'" in source
    assert "Assert-CodebTenantName -Name $tenant" in source and "$seen.Add($tenant)" in source
    assert "$paths = Resolve-CodebTenantPath -Name $tenant -Root $layout.Root" in source
    assert source.index("Resolve-CodebTenantPath") < source.index("Test-Path -LiteralPath $paths.TenantFile")
    assert source.index("Test-Path -LiteralPath $paths.TenantFile") < source.index("Invoke-CodebPython")


def test_a_failing_tenant_stops_no_other_and_fails_the_task():
    """As the provisioning worker: logged and warned, the next tenant runs, the pass exits 1."""
    script = Script(BACKCHANNEL)
    call = next(commands(script.root, "Invoke-CodebPython"))
    node = call
    while node is not None and node.type != "try_statement":
        node = node.parent
    assert node is not None, "the delivery is not in a try"
    handler = text(next(c for c in node.children if c.type == "catch_clauses"))
    assert "$failures++" in handler and "Write-CodebLog" in handler and "Write-Warning" in handler
    assert "break" not in handler and "throw" not in handler
    assert text(script.top_level("if_statement")[-1]).replace("\r", "") == (
        "if ($failures -gt 0) {\n    exit 1\n}")
    assert "('backchannel-{0}.log' -f [DateTime]::UtcNow.ToString('yyyyMMdd'))" in script.source
    assert "Assert-CodebHostPrepared -Layout $layout" in script.source
    root = script.param_block.parameters["Root"]
    worker = Script(DEPLOY / "Invoke-CodebProvisioning.ps1").param_block.parameters["Root"]
    assert [(a.name, a.positional) for a in root] == [(a.name, a.positional) for a in worker]


# --- Folder permissions ----------------------------------------------------------------------


def test_the_tenant_data_is_the_pools_alone():
    """App_Data\\<tenant>: inheritance cut, SYSTEM and Administrators, the tenant's pool Modify; nobody else."""
    data = text(module_function("Set-CodebTenantDataAcl").node)
    rules = re.findall(r"New-CodebAccessRule -Identity (.+?) -Rights (\w+)", data)
    assert rules == [("(Get-CodebWellKnownSid System)", "FullControl"),
                     ("(Get-CodebWellKnownSid Administrators)", "FullControl"), ("$PoolSid", "Modify")]
    assert "Set-CodebFolderAcl -Path $Paths.TenantData" in data
    folder = text(module_function("Set-CodebFolderAcl").node)
    assert "$acl.SetAccessRuleProtection($true, $false)" in folder
    # get-compare-set: an ACL that is so already is not written again.
    assert folder.index("AreAccessRulesProtected") < folder.index("$folder.SetAccessControl($acl)")


# --- Mail ------------------------------------------------------------------------------------


def test_the_smtp_settings_the_scripts_write_are_the_ones_mail_reads():
    from codeb.notify import mail

    written = set(hash_entries(module_function("Get-CodebSmtpAppSetting").node))
    read = set(re.findall(r'"(CODEB_SMTP_[A-Z_]+)"', (ROOT / "codeb" / "notify" / "mail.py").read_text()))
    assert written and written <= read
    assert mail.smarthost_from(dict.fromkeys(written, "")) is None, "empty settings: the Pickup folder"


# --- The host's own site: codeb-host, the sign-up page ------------------------------------------

HOST_SITE_FILE = MODULE_DIR / "HostSite.ps1"
HOST_SITE_SAMPLES = {"$paths.DataRoot": r"C:\CodeB\App_Data", "$siteHost": "www.codeb.example",
                     "$parent": "codeb.example", "$TermsUrl": "https://www.codeb.example/terms"}


def enclosing_should_process(node) -> str | None:
    """The condition of the nearest `if ($PSCmdlet.ShouldProcess(...))` around `node`, if any."""
    while node is not None:
        if node.type == "if_statement":
            condition = next((c for c in node.children if c.type == "pipeline"), None)
            if condition is not None and "$PSCmdlet.ShouldProcess(" in text(condition):
                return text(condition)
        node = node.parent
    return None


def access_rules(node) -> list[tuple[str, str, str]]:
    """(identity, rights, scope) of every New-CodebAccessRule below `node`; scope Tree unless given."""
    rules = []
    for command in commands(node, "New-CodebAccessRule"):
        arguments = named_arguments(command)
        rules.append((arguments["-identity"], unquote(arguments["-rights"]), arguments.get("-scope", "Tree")))
    return rules


def folder_acls(node) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """-Path -> (the -Rule text, the rules made inside it) of every Set-CodebFolderAcl below `node`."""
    return {named_arguments(c)["-path"]: (named_arguments(c)["-rule"], access_rules(c))
            for c in commands(node, "Set-CodebFolderAcl")}


def test_the_host_site_and_its_pool_are_codeb_host():
    """One name for both, a constant of the loader; its folders are _host, the app's name for the host's data."""
    from codeb.provisioning import plan
    from codeb.provisioning.names import RESERVED
    from codeb.store import layout

    constants = loader_constants()
    assert evaluate(constants["HostSiteName"]) == "codeb-host"
    assert evaluate(constants["HostFolderName"]) == layout.HOST_SITE == "_host"
    paths = module_function("Get-CodebHostSitePath")
    entries = hash_entries(paths.node)
    assert entries["SiteName"] == entries["PoolName"] == "$script:HostSiteName"
    assert entries["DataRoot"] == "$Layout.Data"
    assert entries["HostData"] == "Join-Path $Layout.Data $script:HostFolderName"
    assert "$siteFolder = Join-Path $Layout.Sites $script:HostFolderName" in text(paths.node)
    # No tenant's pool can be it: codeb-<tenant> for the tenant "host" would be, so that name is refused
    # (a sign-up never asks for it; New-CodebTenant.ps1 and the worker name pools by Get-CodebPoolName).
    assert plan.pool_name("host") == "codeb-host" and "host" in RESERVED
    assert "if ($pool -ceq $script:HostSiteName) {" in text(module_function("Get-CodebPoolName").node)
    # Install-CodebHostSite names the pool and the site by these paths only.
    install = module_function("Install-CodebHostSite").node
    assert "$paths = Get-CodebHostSitePath -Layout $Layout" in text(install)
    named = [named_arguments(c) for name in POOL_AND_SITE_FUNCTIONS | {"Set-CodebHostAppPool"}
             for c in commands(install, name)]
    assert len(named) >= 8
    for arguments in named:
        assert arguments.get("-name", arguments.get("-poolname")) in ("$paths.PoolName", "$paths.SiteName")
        if "-poolname" in arguments and "-name" in arguments:
            assert (arguments["-name"], arguments["-poolname"]) == ("$paths.SiteName", "$paths.PoolName")


def test_the_host_pool_is_like_a_tenants():
    """ApplicationPoolIdentity and no managed runtime: made by New-CodebAppPool, and set back if changed."""
    made = text(module_function("New-CodebAppPool").node)
    assert "$pool.ManagedRuntimeVersion = ''" in made
    assert "$pool.ProcessModel.IdentityType = 'ApplicationPoolIdentity'" in made
    pool = module_function("Set-CodebHostAppPool").node
    assert [named_arguments(c) for c in commands(pool, "New-CodebAppPool")] == [{"-name": "$Name"}]
    body = text(pool)
    assert "$existing.ManagedRuntimeVersion = ''" in body
    assert "$existing.ProcessModel.IdentityType = 'ApplicationPoolIdentity'" in body
    # get-compare-set: the comparison comes before the change.
    assert body.index("-eq 'ApplicationPoolIdentity'") < body.index("Invoke-CodebIisChange")


def test_the_host_pool_lists_the_data_root_and_changes_only_host():
    """List folder / read attributes on <root>\\App_Data itself (not inherited), Modify on _host, no tenant folder."""
    data = module_function("Set-CodebHostDataAcl").node
    assert [named_arguments(c)["-path"] for c in commands(data, "Set-CodebFolderAcl")] == ["$Layout.Data"]
    assert access_rules(data) == [("(Get-CodebWellKnownSid System)", "FullControl", "Tree"),
                                  ("(Get-CodebWellKnownSid Administrators)", "FullControl", "Tree"),
                                  ("$poolSid", "ListDirectory, ReadAttributes", "FolderOnly")]
    # FolderOnly is the folder itself: no inheritance flags, so nothing below it gets the rule.
    rule = text(module_function("New-CodebAccessRule").node)
    assert "'FolderOnly' { $inheritance = [System.Security.AccessControl.InheritanceFlags]::None }" in rule
    assert "$propagation = [System.Security.AccessControl.PropagationFlags]::None" in rule
    # And the pool is IIS AppPool\codeb-host, found without the IIS module.
    assert "New-Object System.Security.Principal.NTAccount('IIS AppPool', $script:HostSiteName)" in text(
        module_function("Find-CodebHostPoolSid").node)

    install = module_function("Install-CodebHostSite").node
    acls = folder_acls(install)
    assert set(acls) == {"$paths.SiteFolder", "$paths.HostData"}, "no other folder, no tenant's"
    base = "@($system, $administrators,"
    assert acls["$paths.HostData"][0].startswith(base) and acls["$paths.SiteFolder"][0].startswith(base)
    assert acls["$paths.HostData"][1] == [("$poolSid", "Modify", "Tree")]
    assert acls["$paths.SiteFolder"][1] == [("$poolSid", "ReadAndExecute", "Tree")]
    assert [named_arguments(c) for c in commands(install, "Set-CodebHostDataAcl")] == [{"-layout": "$Layout"}]
    assert [named_arguments(c)["-poolsid"] for c in commands(install, "Grant-CodebMailAccess")] == ["$poolSid"]
    for tenant_acl in ("Set-CodebTenantDataAcl", "Set-CodebSiteAcl", "Add-CodebFolderAccess"):
        assert list(commands(install, tenant_acl)) == [], f"the host site calls {tenant_acl}"
    # The data root's ACL is set by the one function on every run of Initialize-CodebHost.ps1 too,
    # so the two never undo each other: no other rule list for <root>\App_Data.
    initialize = Script(DEPLOY / "Initialize-CodebHost.ps1")
    assert [named_arguments(c) for c in commands(initialize.root, "Set-CodebHostDataAcl")] == [{"-layout": "$layout"}]
    assert "$layout.Data" not in folder_acls(initialize.root)


def test_the_host_site_runs_host_set_as_the_cli_parses_it(tmp_path, capsys):
    from codeb.cli import host, main
    from codeb.tenants import Tenants

    calls = python_calls(HOST_SITE_FILE)
    assert ["host", "show"] in calls
    call = next(c for c in calls if c[2:4] == ["host", "set"])
    assert call == ["--data", "$paths.DataRoot", "host", "set", "--site", "$siteHost", "--parent", "$parent",
                    "--windows-worker", "yes"]
    install = module_function("Install-CodebHostSite").node
    added = next(n for n in walk(install) if n.type == "assignment_expression" and text(n).startswith("$arguments += "))
    assert array_items(added.children[-1]) == ["--terms-url", "$TermsUrl"]
    assert "if ($PSBoundParameters.ContainsKey('TermsUrl')) {" in text(install), "not given: the saved terms stay"
    argv = [HOST_SITE_SAMPLES.get(a, a) for a in call + array_items(added.children[-1])]
    args = parse_codeb(argv)
    assert args.func is host.set_site and args.data == r"C:\CodeB\App_Data"
    assert (args.site, args.parent, args.windows_worker, args.terms_url) == (
        "www.codeb.example", "codeb.example", "yes", "https://www.codeb.example/terms")
    # The data root is the host's: <Root>\App_Data.
    assert "$data = Join-Path $fullRoot 'App_Data'" in text(module_function("Get-CodebLayout").node)
    # Run as given (on a data root here): the app then serves the sign-up page for that name.
    argv[1] = str(tmp_path)
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["sign_up_page"] == "https://www.codeb.example/get-your-tenant.html"
    assert Tenants(str(tmp_path)).data.site_settings()["windows_worker"] is True


def test_the_host_sites_web_config_has_its_data_root_and_no_tenant():
    install = module_function("Install-CodebHostSite").node
    settings = next(n for n in walk(install) if n.type == "assignment_expression"
                    and text(n).startswith("$siteSettings = "))
    entries = hash_entries(settings)
    assert entries == {"PYTHONPATH": "$paths.SiteFolder", "CODEB_DATA": "$paths.DataRoot"}
    assert "(Get-CodebSmtpAppSetting -Smtp $hostSettings.Smtp)" in text(settings), "its verification mails"
    writes = [named_arguments(c) for c in commands(install, "Write-CodebWebConfig")]
    assert len(writes) == 2  # either hosting
    for arguments in writes:
        assert arguments["-appsetting"] == "$siteSettings" and arguments["-removesetting"] == "@('CODEB_TENANT')"
        assert arguments["-destination"] == "$paths.WebConfig"
    assert {a.get("-processpath") or a.get("-scriptprocessor") for a in writes} == {
        "$Layout.Python", "$Layout.ScriptProcessor"}
    # A setting that is not given keeps the template's value (CODEB_TENANT "example"): so it is removed.
    writer = module_function("Write-CodebWebConfig")
    assert "RemoveSetting" in writer.param_block.parameters
    body = text(writer.node)
    assert "$null = $node.ParentNode.RemoveChild($node)" in body
    assert body.index("foreach ($key in $RemoveSetting)") > body.index("foreach ($key in $AppSetting.Keys)")
    # The site folder links to the release like a tenant's.
    assert [named_arguments(c) for c in commands(install, "Install-CodebSiteCode")] == [
        {"-layout": "$Layout", "-sitefolder": "$paths.SiteFolder"}]


def test_the_host_site_gets_its_certificate_as_a_tenant_does():
    install = module_function("Install-CodebHostSite")
    text_of = text(install.node)
    certificate = [named_arguments(c) for c in commands(install.node, "Get-CodebTenantCertificate")]
    assert certificate == [{"-tenant": "$paths.CertificateName", "-hostname": "@($siteHost)", "-source": "$source",
                            "-sitename": "$paths.SiteName", "-sitefolder": "$paths.SiteFolder",
                            "-acme": "$hostSettings.Acme"}]
    assert "$source = 'acme'" in text_of and "$source = 'self-signed'" in text_of
    assert evaluate(loader_constants()["HostCertificateName"]) == "host"
    bindings = [named_arguments(c) for c in commands(install.node, "Set-CodebSiteBinding")]
    assert {"-name": "$paths.SiteName", "-hostname": "@($siteHost)", "-thumbprint": "$thumbprint"} in bindings
    assert "SelfSigned" in install.param_block.parameters


def test_every_change_of_the_host_site_asks_should_process():
    install = module_function("Install-CodebHostSite")
    binding = install.param_block.attribute("CmdletBinding")
    assert binding is not None and binding.named.get("supportsshouldprocess") == "$true"
    changing = ("Invoke-CodebPython", "Set-CodebHostAppPool", "New-Item", "Install-CodebSiteCode",
                "Write-CodebWebConfig", "Set-CodebFolderAcl", "Set-CodebHostDataAcl", "Grant-CodebMailAccess",
                "New-CodebSite", "Set-CodebSiteBinding", "Get-CodebTenantCertificate")
    found = [(name, c) for name in changing for c in commands(install.node, name)]
    assert len(found) >= 14
    unasked = [text(c)[:60] for _, c in found if enclosing_should_process(c) is None]
    assert unasked == []
    # host set runs first: it refuses a name a tenant serves before IIS is touched.
    body = text(install.node)
    assert body.index("'host', 'set'") < body.index("Set-CodebHostAppPool -Name")


def test_initialize_sets_up_the_host_site_when_named():
    initialize = Script(DEPLOY / "Initialize-CodebHost.ps1")
    for name in ("SignupHostName", "ParentDomain", "TermsUrl", "SelfSigned", "Hosting"):
        assert name in initialize.param_block.parameters
    options = next(n for n in walk(initialize.root) if n.type == "assignment_expression"
                   and text(n).startswith("$siteOptions = "))
    assert hash_entries(options) == {"Layout": "$layout", "HostName": "$SignupHostName",
                                     "ParentDomain": "$ParentDomain", "Hosting": "$Hosting"}
    call = next(commands(initialize.root, "Install-CodebHostSite"))
    assert "@siteOptions" in text(call)
    arguments = named_arguments(call)
    assert arguments == {"-selfsigned": "$SelfSigned", "-whatif": "$WhatIfPreference",
                         "-confirm": "($ConfirmPreference -eq 'Low')"}, "-WhatIf and -Confirm reach the module"
    assert "if ($SignupHostName) {" in initialize.source
    # An upgrade recycles the host site's pool too.
    assert "foreach ($poolName in @($pools + $hostSite.PoolName)) {" in initialize.source
    assert "$hostSite = Get-CodebHostSitePath -Layout $layout" in initialize.source
