package filter

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// vercmpCases are rpm's own (tests/rpmvercmp.at) and a few more; want is
// what rpm says.
var vercmpCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0", "1.0", 1},
	{"2.0.1", "2.0.1", 0}, {"2.0", "2.0.1", -1}, {"2.0.1", "2.0", 1},
	{"2.0.1a", "2.0.1a", 0}, {"2.0.1a", "2.0.1", 1}, {"2.0.1", "2.0.1a", -1},
	{"5.5p1", "5.5p1", 0}, {"5.5p1", "5.5p2", -1}, {"5.5p2", "5.5p1", 1},
	{"5.5p10", "5.5p10", 0}, {"5.5p1", "5.5p10", -1}, {"5.5p10", "5.5p1", 1},
	{"10xyz", "10.1xyz", -1}, {"10.1xyz", "10xyz", 1},
	{"xyz10", "xyz10", 0}, {"xyz10", "xyz10.1", -1}, {"xyz10.1", "xyz10", 1},
	{"xyz.4", "xyz.4", 0}, {"xyz.4", "8", -1}, {"8", "xyz.4", 1},
	{"xyz.4", "2", -1}, {"2", "xyz.4", 1},
	{"5.5p2", "5.6p1", -1}, {"5.6p1", "5.5p2", 1},
	{"5.6p1", "6.5p1", -1}, {"6.5p1", "5.6p1", 1},
	{"6.0.rc1", "6.0", 1}, {"6.0", "6.0.rc1", -1},
	{"10b2", "10a1", 1}, {"10a2", "10b2", -1},
	{"1.0aa", "1.0aa", 0}, {"1.0a", "1.0aa", -1}, {"1.0aa", "1.0a", 1},
	{"10.0001", "10.0001", 0}, {"10.0001", "10.1", 0}, {"10.1", "10.0001", 0},
	{"10.0001", "10.0039", -1}, {"10.0039", "10.0001", 1},
	{"4.999.9", "5.0", -1}, {"5.0", "4.999.9", 1},
	{"20101121", "20101121", 0}, {"20101121", "20101122", -1}, {"20101122", "20101121", 1},
	{"2_0", "2_0", 0}, {"2.0", "2_0", 0}, {"2_0", "2.0", 0},
	{"a", "a", 0}, {"a+", "a+", 0}, {"a+", "a_", 0}, {"a_", "a+", 0},
	{"+a", "+a", 0}, {"+a", "_a", 0}, {"_a", "+a", 0},
	{"+_", "+_", 0}, {"_+", "+_", 0}, {"_+", "_+", 0}, {"+", "_", 0}, {"_", "+", 0},
	{"1.0~rc1", "1.0~rc1", 0}, {"1.0~rc1", "1.0", -1}, {"1.0", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc2", "1.0~rc1", 1},
	{"1.0~rc1~git123", "1.0~rc1~git123", 0}, {"1.0~rc1~git123", "1.0~rc1", -1}, {"1.0~rc1", "1.0~rc1~git123", 1},
	{"1.0^", "1.0^", 0}, {"1.0^", "1.0", 1}, {"1.0", "1.0^", -1},
	{"1.0^git1", "1.0^git1", 0}, {"1.0^git1", "1.0", 1}, {"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0^git2", -1}, {"1.0^git2", "1.0^git1", 1},
	{"1.0^git1", "1.01", -1}, {"1.01", "1.0^git1", 1},
	{"1.0^20160101", "1.0^20160101", 0}, {"1.0^20160101", "1.0.1", -1}, {"1.0.1", "1.0^20160101", 1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0}, {"1.0^20160102", "1.0^20160101^git1", 1},
	{"1.0^20160101^git1", "1.0^20160102", -1},
	{"1.0~rc1^git1", "1.0~rc1^git1", 0}, {"1.0~rc1^git1", "1.0~rc1", 1}, {"1.0~rc1", "1.0~rc1^git1", -1},
	{"1.0^git1~pre", "1.0^git1~pre", 0}, {"1.0^git1", "1.0^git1~pre", 1}, {"1.0^git1~pre", "1.0^git1", -1},
	// More: long numbers, mixed separators, empty strings.
	{"1.123456789012345678901234567890", "1.123456789012345678901234567891", -1},
	{"", "", 0}, {"", "1", -1}, {"1", "", 1}, {"~", "", -1}, {"^", "", 1},
	{"1.el9", "1.el9_2", -1}, {"3.el9", "10.el9", -1}, {"1.fc39", "1.fc40", -1},
	{"2.3.4-5", "2.3.4.5", 0}, {"1a", "1.a", 0}, {"a1", "1a", -1},
}

func TestVercmp(t *testing.T) {
	for _, c := range vercmpCases {
		t.Run(c.a+"_vs_"+c.b, func(t *testing.T) {
			if got := Vercmp(c.a, c.b); got != c.want {
				t.Errorf("Vercmp(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
		})
	}
}

// TestVercmpAgainstRPM asks rpm itself (its Lua rpm.vercmp) about every
// case, and about every pair of a list of versions.
func TestVercmpAgainstRPM(t *testing.T) {
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed")
	}
	versions := []string{"1", "1.0", "1.0.0", "1.00", "1.0a", "1.0~rc1", "1.0^git1", "1.0~rc1^x", "2", "10", "1_0",
		"0.9.9", "a", "A", "z", "1.A", "1.a", "1.b2", "1.2b", "~~", "^^", "1..1", "1.01.1", "2.0.0~beta~1", "9999999999999999999999"}
	type pair struct{ a, b string }
	var pairs []pair
	// rpm.vercmp parses its arguments as [epoch:]version[-release] and
	// refuses empty ones: those cases are for Vercmp alone.
	for _, c := range vercmpCases {
		if c.a != "" && c.b != "" && !strings.ContainsAny(c.a+c.b, "-:") {
			pairs = append(pairs, pair{c.a, c.b})
		}
	}
	for _, a := range versions {
		for _, b := range versions {
			pairs = append(pairs, pair{a, b})
		}
	}
	var lua strings.Builder
	for _, p := range pairs {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q) .. ' ') ", p.a, p.b)
	}
	out, err := exec.Command("rpm", "--eval", "%{lua: "+lua.String()+"}").Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(pairs) {
		t.Fatalf("rpm printed %d results for %d pairs", len(lines), len(pairs))
	}
	for i, p := range pairs {
		want, err := strconv.Atoi(lines[i])
		if err != nil {
			t.Fatalf("rpm printed %q", lines[i])
		}
		if got := Vercmp(p.a, p.b); got != want {
			t.Errorf("Vercmp(%q, %q) = %d, rpm says %d", p.a, p.b, got, want)
		}
	}
}

func TestEVRCompare(t *testing.T) {
	for _, c := range []struct {
		a, b EVR
		want int
	}{
		{EVR{"", "1.0", "1"}, EVR{"0", "1.0", "1"}, 0},
		{EVR{"1", "0.9", "1"}, EVR{"0", "1.0", "1"}, 1},
		{EVR{"", "1.0", "1"}, EVR{"", "1.0", "2"}, -1},
		{EVR{"10", "1", "1"}, EVR{"9", "2", "1"}, 1},
		{EVR{"", "1.0", "1.el9"}, EVR{"", "1.0", "1.el9_1"}, -1},
	} {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%s vs %s: %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
