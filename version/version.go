// Package version names the software that runs a Civic Ledger network or
// talks to one: the release, the build it came from and the versions of the
// libraries that decide its bytes (CometBFT, IAVL). ledgerd and ledger report
// the same Info, and a proof bundle names its exporter with Info.String.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	cmtversion "github.com/cometbft/cometbft/version"
)

// Release is the Civic Ledger release these binaries were built from, and
// AppVersion the state machine's version, which a node reports in ABCI Info
// and the chain's blocks carry.
const (
	Release    = "0.1.0"
	AppVersion = 1
)

// Info describes one build.
type Info struct {
	Release    string `json:"release"`            // Civic Ledger release
	AppVersion uint64 `json:"app_version"`        // state machine version
	Module     string `json:"module,omitempty"`   // Go module version, "(devel)" for a local build
	Revision   string `json:"revision,omitempty"` // VCS revision the build came from, if Go recorded it
	Modified   bool   `json:"modified,omitempty"` // the working tree had uncommitted changes
	CometBFT   string `json:"cometbft"`
	ABCI       string `json:"abci"`
	Block      uint64 `json:"block_protocol"`
	P2P        uint64 `json:"p2p_protocol"`
	IAVL       string `json:"iavl,omitempty"`
	Go         string `json:"go"`
}

// Get reports the running binary's build.
func Get() Info {
	v := Info{
		Release: Release, AppVersion: AppVersion,
		CometBFT: cmtversion.TMCoreSemVer,
		ABCI:     cmtversion.ABCISemVer,
		Block:    cmtversion.BlockProtocol,
		P2P:      cmtversion.P2PProtocol,
		Go:       runtime.Version(),
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Module = bi.Main.Version
	for _, d := range bi.Deps {
		if d.Path == "github.com/cosmos/iavl" {
			v.IAVL = d.Version
			if d.Replace != nil {
				v.IAVL = d.Replace.Version
			}
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is a one-line name of the build, as a proof bundle records its
// exporter: "civicledger 0.1.0 (rev 1a2b3c4d5e6f, cometbft 0.38.x)".
func (v Info) String() string {
	rev := ""
	if v.Revision != "" {
		r := v.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		rev = "rev " + r
		if v.Modified {
			rev += "+modified"
		}
		rev += ", "
	}
	return fmt.Sprintf("civicledger %s (%scometbft %s)", v.Release, rev, v.CometBFT)
}

// Lines is the text form of v, one "name value" pair per line, as both
// binaries' version commands print it; name is the binary ("ledgerd", "ledger").
func (v Info) Lines(name string) string {
	rows := [][2]string{
		{name, v.Release},
		{"module", v.Module},
		{"revision", v.Revision},
		{"app_version", fmt.Sprint(v.AppVersion)},
		{"cometbft", v.CometBFT},
		{"abci", v.ABCI},
		{"block", fmt.Sprint(v.Block)},
		{"p2p", fmt.Sprint(v.P2P)},
		{"iavl", v.IAVL},
		{"go", v.Go},
	}
	if v.Modified {
		rows[2][1] += " (modified)"
	}
	var s string
	for _, r := range rows {
		if r[1] != "" {
			s += fmt.Sprintf("%-12s %s\n", r[0], r[1])
		}
	}
	return s
}
