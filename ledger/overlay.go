package ledger

import (
	"bytes"
	"sort"
)

// Overlay is a KV that buffers writes in memory over a Reader. Nodes use it
// for CheckTx: transactions are applied to a throwaway view of the last
// committed state, which is discarded at every Commit.
type Overlay struct {
	base   Reader
	writes map[string]map[string][]byte // store → key → value (nil = deleted)
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base Reader) *Overlay {
	return &Overlay{base: base, writes: map[string]map[string][]byte{}}
}

func (o *Overlay) Get(store string, key []byte) ([]byte, error) {
	if v, ok := o.writes[store][string(key)]; ok {
		return v, nil
	}
	return o.base.Get(store, key)
}

func (o *Overlay) Set(store string, key, value []byte) error {
	m := o.writes[store]
	if m == nil {
		m = map[string][]byte{}
		o.writes[store] = m
	}
	m[string(key)] = bytes.Clone(value)
	return nil
}

func (o *Overlay) Delete(store string, key []byte) error {
	m := o.writes[store]
	if m == nil {
		m = map[string][]byte{}
		o.writes[store] = m
	}
	m[string(key)] = nil
	return nil
}

// Iterate merges the buffered writes with the base in key order.
func (o *Overlay) Iterate(store string, start, end []byte, fn func(k, v []byte) bool) error {
	merged := map[string][]byte{}
	if err := o.base.Iterate(store, start, end, func(k, v []byte) bool {
		merged[string(k)] = bytes.Clone(v)
		return true
	}); err != nil {
		return err
	}
	for k, v := range o.writes[store] {
		if k < string(start) || (end != nil && k >= string(end)) {
			continue
		}
		merged[k] = v
	}
	keys := make([]string, 0, len(merged))
	for k, v := range merged {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), merged[k]) {
			return nil
		}
	}
	return nil
}
