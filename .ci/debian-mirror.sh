#!/usr/bin/env bash
# Print the Debian bookworm mirror this machine's apt uses (never hard-coded): the URIs of the
# deb822 stanza whose Suites include "bookworm", else a one-line sources.list entry.
# Sourced by the scripts that debootstrap a base image: `MIRROR="$(find_mirror)"`.

find_mirror() {
    local f=/etc/apt/sources.list.d/debian.sources
    if [ -f "$f" ]; then
        awk '
            function flush() {
                if (!found && uris != "" && suites ~ /(^|[ \t])bookworm([ \t]|$)/) { split(uris, u, /[ \t]+/); print u[1]; found = 1 }
                uris = ""; suites = ""
            }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "uris:"   { sub(/^[^:]*:[ \t]*/, ""); uris = $0; next }
            tolower($1) == "suites:" { sub(/^[^:]*:[ \t]*/, ""); suites = $0; next }
            END { flush() }
        ' "$f"
        return
    fi
    if [ -f /etc/apt/sources.list ]; then
        # deb [opts] URI SUITE COMPONENTS...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//g' /etc/apt/sources.list \
            | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }'
    fi
}
