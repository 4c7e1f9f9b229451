package ledger_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/civicledger/civicledger/ledger"
)

func officerRoles(c *chain, agency string, o *officer) []ledger.Role {
	ag := c.agency(agency)
	for _, x := range ag.Officers {
		if bytes.Equal(x.Key, o.pub) {
			return x.Roles
		}
	}
	return nil
}

func TestOfficers(t *testing.T) {
	sorted := func(t *testing.T, c *chain) {
		t.Helper()
		ag := c.agency(agCulture)
		if !slices.IsSortedFunc(ag.Officers, func(a, b ledger.Officer) int { return bytes.Compare(a.Key, b.Key) }) {
			t.Fatal("officers not sorted by key")
		}
	}
	runTxCases(t, []txCase{
		{
			name: "add",
			tx: func(c *chain) []byte {
				return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance, ledger.RoleGrants))
			},
			check: func(t *testing.T, c *chain, res ledger.Result) {
				if r := officerRoles(c, agCulture, newcomer); !slices.Equal(r, []ledger.Role{ledger.RoleFinance, ledger.RoleGrants}) {
					t.Fatalf("roles %v", r)
				}
				if len(c.agency(agCulture).Officers) != 6 {
					t.Fatal("officer count")
				}
				sorted(t, c)
				if e := findEvent(res.Events, "officer", "action", "add"); e == nil || attr(e, "roles") != "finance,grants" || attr(e, "key") != newcomer.hex() {
					t.Fatalf("events: %+v", res.Events)
				}
				// The new officer can act at once.
				c.mustOK(c.tx(newcomer, pay("p-new", "", "1000")), c.tx(newcomer, award("g-new", "1000")))
			},
		},
		{name: "add existing officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(cultFin1, ledger.RoleFinance)) }, want: ledger.ErrOfficerExists},
		{name: "add self", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(cultAdmin, ledger.RoleAdmin)) }, want: ledger.ErrOfficerExists},
		{name: "add another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(worksAdmin, ledger.RoleFinance)) }, want: ledger.ErrOfficerExists},
		{name: "add by non-admin", tx: func(c *chain) []byte { return c.tx(cultGrants, addOfficer(newcomer, ledger.RoleFinance)) }, want: ledger.ErrMissingRole},
		{name: "add by another agency's admin", tx: func(c *chain) []byte { return c.txFor(agCulture, worksAdmin, addOfficer(newcomer, ledger.RoleFinance)) }, want: ledger.ErrNotOfficer},
		{name: "add with invalid role", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(newcomer, "auditor")) }, want: ledger.ErrInvalidRole},
		{name: "add with unsorted roles", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleGrants, ledger.RoleFinance))
		}, want: ledger.ErrInvalidRole},
		{name: "add with duplicate roles", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleFinance, ledger.RoleFinance))
		}, want: ledger.ErrInvalidRole},
		{name: "add with no roles", tx: func(c *chain) []byte { return c.tx(cultAdmin, addOfficer(newcomer)) }, want: ledger.ErrInvalidRole},
		{
			name: "add with short key",
			tx: func(c *chain) []byte {
				p := addOfficer(newcomer, ledger.RoleFinance)
				p.Key = p.Key[:31]
				return c.tx(cultAdmin, p)
			},
			want: ledger.ErrInvalidKey,
		},
		{
			name: "add with empty name",
			tx: func(c *chain) []byte {
				p := addOfficer(newcomer, ledger.RoleFinance)
				p.Name = ""
				return c.tx(cultAdmin, p)
			},
			want: ledger.ErrInvalidField,
		},
		{
			name: "remove",
			tx:   func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(cultFin2)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				if officerRoles(c, agCulture, cultFin2) != nil || len(c.agency(agCulture).Officers) != 4 {
					t.Fatal("officer still present")
				}
				sorted(t, c)
				expectResult(t, c.run(c.tx(cultFin2, pay("p-new", "", "1000"))), ledger.ErrNotOfficer)
				expectResult(t, c.run(c.tx(cultFin1, pay("p-new", "", "2000000"), cultFin2)), ledger.ErrNotOfficer)
			},
		},
		{name: "remove unknown officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(newcomer)) }, want: ledger.ErrOfficerNotFound},
		{name: "remove another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(worksFin)) }, want: ledger.ErrOfficerNotFound},
		{name: "remove last admin", tx: func(c *chain) []byte { return c.tx(cultAdmin, removeOfficer(cultAdmin)) }, want: ledger.ErrLastAdmin},
		{name: "remove last admin with other roles", tx: func(c *chain) []byte { return c.tx(taxAdmin, removeOfficer(taxAdmin)) }, want: ledger.ErrLastAdmin},
		{
			name:  "remove one of two admins",
			setup: func(c *chain) { c.mustOK(c.tx(cultAdmin, addOfficer(newcomer, ledger.RoleAdmin))) },
			tx:    func(c *chain) []byte { return c.tx(newcomer, removeOfficer(cultAdmin)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				expectResult(t, c.run(c.tx(cultAdmin, addOfficer(outsider, ledger.RoleAdmin))), ledger.ErrNotOfficer)
				expectResult(t, c.run(c.tx(newcomer, removeOfficer(newcomer))), ledger.ErrLastAdmin)
			},
		},
		{name: "remove by non-admin", tx: func(c *chain) []byte { return c.tx(cultFin1, removeOfficer(cultFin2)) }, want: ledger.ErrMissingRole},
		{
			name: "set roles",
			tx: func(c *chain) []byte {
				return c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleFinance, ledger.RoleGrants))
			},
			check: func(t *testing.T, c *chain, res ledger.Result) {
				if r := officerRoles(c, agCulture, cultFin1); !slices.Equal(r, []ledger.Role{ledger.RoleFinance, ledger.RoleGrants}) {
					t.Fatalf("roles %v", r)
				}
				if e := findEvent(res.Events, "officer", "action", "set-roles"); e == nil || attr(e, "roles") != "finance,grants" {
					t.Fatalf("events: %+v", res.Events)
				}
				c.mustOK(c.tx(cultFin1, award("g-new", "1000")))
			},
		},
		{
			name: "set roles takes a role away",
			tx:   func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleLicensing)) },
			check: func(t *testing.T, c *chain, _ ledger.Result) {
				expectResult(t, c.run(c.tx(cultFin1, pay("p-new", "", "1000"))), ledger.ErrMissingRole)
			},
		},
		{name: "set roles of unknown officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(newcomer, ledger.RoleFinance)) }, want: ledger.ErrOfficerNotFound},
		{name: "set roles of another agency's officer", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(worksFin, ledger.RoleFinance)) }, want: ledger.ErrOfficerNotFound},
		{name: "drop admin role of last admin", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultAdmin, ledger.RoleFinance)) }, want: ledger.ErrLastAdmin},
		{name: "drop admin role of last admin with other roles", tx: func(c *chain) []byte { return c.txFor(agWorks, worksAdmin, setRoles(worksAdmin, ledger.RoleGrants)) }, want: ledger.ErrLastAdmin},
		{name: "last admin keeps admin role", tx: func(c *chain) []byte {
			return c.tx(cultAdmin, setRoles(cultAdmin, ledger.RoleAdmin, ledger.RoleFinance))
		}},
		{
			name:  "drop admin role of one of two admins",
			setup: func(c *chain) { c.mustOK(c.tx(cultAdmin, setRoles(cultFin1, ledger.RoleAdmin, ledger.RoleFinance))) },
			tx:    func(c *chain) []byte { return c.tx(cultFin1, setRoles(cultAdmin, ledger.RoleGrants)) },
		},
		{name: "set invalid role", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1, "root")) }, want: ledger.ErrInvalidRole},
		{name: "set no roles", tx: func(c *chain) []byte { return c.tx(cultAdmin, setRoles(cultFin1)) }, want: ledger.ErrInvalidRole},
		{name: "set roles by non-admin", tx: func(c *chain) []byte { return c.tx(cultFin2, setRoles(cultFin2, ledger.RoleAdmin, ledger.RoleFinance)) }, want: ledger.ErrMissingRole},
	})
}
