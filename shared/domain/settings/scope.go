package settings

import (
	"strconv"
	"strings"

	"privacycore/shared/domain/consent"
)

// ScopeSCR is the erase scope that deletes summary care record content of
// generations up to gen and nothing else.
func ScopeSCR(gen int) consent.Scope { return consent.Scope(scrPrefix + strconv.Itoa(gen)) }

const scrPrefix = "scr:"

// SCRGenerations reads an erase scope: isSCR is whether it is a ScopeSCR
// scope, upTo the last generation it deletes (ok false if it names none).
func SCRGenerations(scope consent.Scope) (upTo int, isSCR, ok bool) {
	g, isSCR := strings.CutPrefix(string(scope), scrPrefix)
	if !isSCR {
		return 0, false, false
	}
	n, err := strconv.Atoi(g)
	return n, true, err == nil
}
