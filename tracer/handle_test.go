package main

import "testing"

// The previous handler gets what the kernel would have given it (fs/coredump.c format_corename).
func TestExpandPreviousPattern(t *testing.T) {
	c := &crash{
		spec:  map[string]string{"P": "4242", "i": "4243", "I": "4243", "s": "6", "t": "1700000000", "e": "my/svc", "c": "18446744073709551615", "u": "1000", "g": "1000", "d": "1", "h": "host", "F": "3"},
		nsPid: "7",
		exe:   "/srv/app/svc",
	}
	cases := []struct {
		text string
		file bool
		want string
	}{
		// systemd-coredump's arguments: pidfd number 3, as the kernel installs it.
		{"%P %u %g %s %t %c %h %d %F", false, "4242 1000 1000 6 1700000000 18446744073709551615 host 1 3"},
		// apport's: the namespaced pid, and %E with every / made !.
		{"-p%p -s%s -c%c -d%d -P%P -u%u -g%g -E%E", false, "-p7 -s6 -c18446744073709551615 -d1 -P4242 -u1000 -g1000 -E!srv!app!svc"},
		// A file pattern escapes a / in %e so that no new path component appears; %% is a percent.
		{"/var/crash/core.%e.%p.%%", true, "/var/crash/core.my!svc.7.%"},
		{"core.%f", true, "core.svc"},
	}
	for _, tc := range cases {
		if got := expand(c, tc.text, tc.file); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}
