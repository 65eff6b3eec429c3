package access_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"privacycore/shared/domain/access"
)

// readmeCatalogue reads the table under "## Service catalogue" in the
// repository's README: one row per service.
func readmeCatalogue(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Service catalogue\n")
	if !ok {
		t.Fatal(`README.md has no "## Service catalogue" section`)
	}
	var rows [][]string
	header := false
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			if header && len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cells[0] == "service":
			header = true
			if got := strings.Join(cells, ","); got != "service,level,under 12,12–15,area,needs,significant since,source" {
				t.Fatalf("catalogue table header: %s", got)
			}
		case strings.HasPrefix(cells[0], "---"):
		case header:
			rows = append(rows, cells)
		}
	}
	return rows
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// row renders a catalogue entry as its README row (without the source).
func row(s access.Service) []string {
	area := string(s.Area)
	if area == "" {
		area = "—"
	}
	var needs []string
	if s.PatientTravel {
		needs = append(needs, "patient_travel")
	}
	if s.PatientRecord {
		needs = append(needs, "patient_record")
	}
	if s.SummaryCareRecord {
		needs = append(needs, "scr")
	}
	since := ""
	if !s.SignificantSince.IsZero() {
		since = s.SignificantSince.Format(time.DateOnly)
	}
	return []string{s.ID, string(s.Level), yesNo(s.ChildUnder12), yesNo(s.Child12To16), area, strings.Join(needs, " "), since}
}

// TestCatalogueMatchesREADME pins the catalogue (levels, child bands,
// attorney areas, what else a service needs, significance) to the README's
// table, row by row and in order, so neither can change alone.
func TestCatalogueMatchesREADME(t *testing.T) {
	rows := readmeCatalogue(t)
	if len(rows) != len(access.Catalogue) {
		t.Errorf("README lists %d services, the catalogue %d", len(rows), len(access.Catalogue))
	}
	for i := range min(len(rows), len(access.Catalogue)) {
		want := strings.Join(row(access.Catalogue[i]), " | ")
		if got := strings.Join(rows[i][:7], " | "); got != want {
			t.Errorf("row %d:\n README     %s\n catalogue  %s", i+1, got, want)
		}
		if rows[i][7] == "" {
			t.Errorf("row %d (%s): no source", i+1, rows[i][0])
		}
	}
}
