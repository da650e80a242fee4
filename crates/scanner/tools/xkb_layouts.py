#!/usr/bin/env python3
"""Generates crates/scanner/src/keyboard/tables.rs from the xkb keymaps.

The keyboard-wedge decoder turns HID usage ids into characters the way a Linux
console or desktop with the same keyboard layout would. The reference is
xkeyboard-config (Debian package `xkb-data`, /usr/share/X11/xkb/symbols) and the
keysym table of X11 (`x11proto-dev`, /usr/include/X11/keysymdef.h). This script
resolves `pc(pc105)` plus each layout's default variant (with its includes), the
way the `evdev` rules build a keymap, and writes one table per layout: for each
character key, the characters of levels 1-4 (plain, Shift, AltGr, Shift+AltGr).

Run from the repository root; it overwrites the tables file:

    python3 crates/scanner/tools/xkb_layouts.py > crates/scanner/src/keyboard/tables.rs
"""

import os
import re
import subprocess
import sys

XKB = "/usr/share/X11/xkb/symbols"
KEYSYMDEF = "/usr/include/X11/keysymdef.h"

# HID usage id -> xkb key name, through the Linux keycode the kernel's hid-input
# assigns (drivers/hid/hid-input.c, hid_keyboard[]): 0x32 (Non-US # and ~) is
# KEY_BACKSLASH there, like 0x31, so both are <BKSL>; 0x64 (Non-US \ and |) is
# KEY_102ND, the <LSGT> key.
USAGES = [
    (0x04, "AC01"), (0x05, "AB05"), (0x06, "AB03"), (0x07, "AC03"), (0x08, "AD03"),
    (0x09, "AC04"), (0x0A, "AC05"), (0x0B, "AC06"), (0x0C, "AD08"), (0x0D, "AC07"),
    (0x0E, "AC08"), (0x0F, "AC09"), (0x10, "AB07"), (0x11, "AB06"), (0x12, "AD09"),
    (0x13, "AD10"), (0x14, "AD01"), (0x15, "AD04"), (0x16, "AC02"), (0x17, "AD05"),
    (0x18, "AD07"), (0x19, "AB04"), (0x1A, "AD02"), (0x1B, "AB02"), (0x1C, "AD06"),
    (0x1D, "AB01"),
    (0x1E, "AE01"), (0x1F, "AE02"), (0x20, "AE03"), (0x21, "AE04"), (0x22, "AE05"),
    (0x23, "AE06"), (0x24, "AE07"), (0x25, "AE08"), (0x26, "AE09"), (0x27, "AE10"),
    (0x2C, "SPCE"), (0x2D, "AE11"), (0x2E, "AE12"), (0x2F, "AD11"), (0x30, "AD12"),
    (0x31, "BKSL"), (0x32, "BKSL"), (0x33, "AC10"), (0x34, "AC11"), (0x35, "TLDE"),
    (0x36, "AB08"), (0x37, "AB09"), (0x38, "AB10"), (0x64, "LSGT"),
]

LAYOUTS = ["us", "no", "se", "fi", "dk", "de"]


def keysyms():
    """Keysym name -> character, from keysymdef.h's `/* U+XXXX ... */` comments."""
    table = {}
    pattern = re.compile(r"^#define XK_(\w+)\s+0x([0-9a-fA-F]+)\s*/\*\s*U\+([0-9A-Fa-f]+)")
    with open(KEYSYMDEF, encoding="utf-8") as f:
        for line in f:
            m = pattern.match(line)
            if m:
                table[m.group(1)] = chr(int(m.group(3), 16))
    return table


KEYSYMS = keysyms()


def to_char(name):
    """The character a keysym types, or None (dead keys, NoSymbol, functions)."""
    if name in KEYSYMS:
        return KEYSYMS[name]
    if re.fullmatch(r"U[0-9A-Fa-f]{4,6}", name):
        return chr(int(name[1:], 16))
    if re.fullmatch(r"0x100[0-9A-Fa-f]{4,5}", name):
        return chr(int(name, 16) - 0x1000000)
    if re.fullmatch(r"[0-9]", name):
        return name
    return None


def section(file, name):
    """The body of `xkb_symbols "name"` in symbols/file (the default one when name is None)."""
    with open(os.path.join(XKB, file), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"//[^\n]*", "", text)
    if name is None:
        m = re.search(r"default[^\n{]*\n?\s*xkb_symbols\s+\"([^\"]+)\"", text)
        name = m.group(1)
    m = re.search(r"xkb_symbols\s+\"" + re.escape(name) + r"\"\s*\{", text)
    if not m:
        raise SystemExit(f"no section {file}({name})")
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end() : i - 1]


STATEMENT = re.compile(r"include\s+\"([^\"]+)\"|key\s*<(\w+)>\s*\{(.*?)\}\s*;", re.S)


def resolve(file, name, keys, includes):
    """Applies a section to `keys` (xkb key -> 4 levels), includes first where they stand."""
    for m in STATEMENT.finditer(section(file, name)):
        if m.group(1):
            for part in m.group(1).split("+"):
                inc = re.fullmatch(r"(\w+)(?:\((\w+)\))?", part)
                includes.append(part)
                resolve(inc.group(1), inc.group(2), keys, includes)
            continue
        # Drop `type[Group1]="..."` and `symbols[Group1]=`: the level list is what remains.
        body = re.sub(r"type\[\w+\]\s*=\s*\"[^\"]*\"\s*,?", "", m.group(3))
        body = re.sub(r"symbols\[\w+\]\s*=", "", body)
        levels = re.search(r"\[([^\]]*)\]", body)
        if not levels:
            continue
        names = [s.strip() for s in levels.group(1).split(",")]
        old = keys.setdefault(m.group(2), [None] * 4)
        for level, sym in enumerate(names[:4]):
            if sym and sym != "NoSymbol":
                old[level] = sym


def layout(name):
    keys, includes = {}, []
    resolve("pc", "pc105", keys, includes)
    resolve(name, None, keys, includes)
    has_level3 = any(i.startswith("level3(") for i in includes)
    decimal = "," if "kpdl(comma)" in includes else "."
    table = []
    for usage, key in USAGES:
        syms = keys.get(key, [None] * 4)
        chars = [to_char(s) if s else None for s in syms]
        # The key type xkb infers from the number of levels decides which modifiers
        # count: a one-level key (space) ignores Shift and AltGr, a two-level key
        # ignores AltGr.
        defined = max((i + 1 for i, s in enumerate(syms) if s), default=0)
        if defined == 1:
            chars = [chars[0]] * 4
        elif defined == 2:
            chars = chars[:2] * 2
        # Without a level-3 switch (us) right Alt is plain Alt: no character.
        if not has_level3:
            chars[2] = chars[3] = None
        table.append((usage, key, chars, syms))
    return table, decimal


def rust_char(c):
    if c is None:
        return "None"
    if c == "'":
        return "Some('\\'')"
    if c == "\\":
        return "Some('\\\\')"
    if not c.isprintable() or c.isspace() and c != " ":
        return f"Some('\\u{{{ord(c):x}}}')"
    return f"Some('{c}')"


def version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "xkb-data"],
                             capture_output=True, text=True, check=True)
        return out.stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    out = sys.stdout
    out.write("// @generated by crates/scanner/tools/xkb_layouts.py from xkeyboard-config "
              f"(xkb-data {version()}).\n// Do not edit: change the script and run it again.\n\n")
    out.write("//! Characters per key for each layout: levels 1-4 (plain, Shift, AltGr, Shift+AltGr).\n")
    out.write("//! `None`: no character (a dead key, or nothing on that level).\n\n")
    out.write("use super::Levels;\n\n")
    out.write(f"/// The HID usage ids the tables describe, in table order.\npub(super) const USAGES: [u8; {len(USAGES)}] = [\n")
    for usage, key in USAGES:
        out.write(f"    0x{usage:02X}, // <{key}>\n")
    out.write("];\n")
    for name in LAYOUTS:
        table, decimal = layout(name)
        out.write(f"\n/// `{name}`: pc(pc105) + {name}; keypad decimal key `{decimal}`.\n")
        out.write(f"pub(super) const {name.upper()}: [Levels; {len(USAGES)}] = [\n")
        for usage, key, chars, syms in table:
            cells = ", ".join(rust_char(c) for c in chars)
            names = " ".join(s or "-" for s in syms)
            out.write(f"    [{cells}], // 0x{usage:02X} <{key}> {names}\n")
        out.write("];\n")
        out.write(f"/// The keypad decimal key of `{name}`.\npub(super) const {name.upper()}_DECIMAL: char = '{decimal}';\n")


main()
