package main

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair: the terminal side a command would
// have as stderr, and the controlling side that sets its size.
func openPty(t *testing.T) (ctl, term *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ctl.Close() })
	if err := unix.IoctlSetPointerInt(int(ctl.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ctl.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { term.Close() })
	return ctl, term
}

// TestTerminalWidth: a terminal whose size was never set (script(1), a
// serial console) has width 0, so sync logs instead of drawing bars it
// cannot (a tester's sync printed nothing for 20 s); one with a size has
// its columns; a file is no terminal.
func TestTerminalWidth(t *testing.T) {
	ctl, term := openPty(t)
	if !isTerminal(term) {
		t.Fatal("a pseudo-terminal is not taken for a terminal")
	}
	if w := terminalWidth(term); w != 0 {
		t.Errorf("width of a terminal of no size: %d, want 0", w)
	}
	if err := unix.IoctlSetWinsize(int(ctl.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 100}); err != nil {
		t.Fatal(err)
	}
	if w := terminalWidth(term); w != 100 {
		t.Errorf("width of a 100x24 terminal: %d, want 100", w)
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if w := terminalWidth(f); w != 0 {
		t.Errorf("width of a file: %d, want 0", w)
	}
}
