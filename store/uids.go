package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// bucketMeta holds the store's own bookkeeping; keyNextUID in it is the
// next app uid to try, so that a uid freed by a deleted app is handed out
// again only once the whole range has been used.
var (
	bucketMeta = []byte("meta")
	keyNextUID = []byte("next-uid")
)

// usedUIDs returns the apps' uids, each with its app's name.
func usedUIDs(tx *bolt.Tx) (map[int]string, error) {
	used := map[int]string{}
	err := tx.Bucket(bucketApps).ForEach(func(k, v []byte) error {
		a := new(engine.App)
		if err := decode(k, v, a); err != nil {
			return err
		}
		if a.UID != 0 {
			used[a.UID] = a.Name
		}
		return nil
	})
	return used, err
}

// allocUID picks the next free app uid after the last one given out,
// wrapping around the range, and records it as given out. used holds the
// uids apps have now; the new one is added to it.
func allocUID(tx *bolt.Tx, used map[int]string, app string) (int, error) {
	meta := tx.Bucket(bucketMeta)
	next := engine.FirstAppUID
	if b := meta.Get(keyNextUID); len(b) == 8 {
		next = int(binary.BigEndian.Uint64(b))
	}
	for range engine.LastAppUID - engine.FirstAppUID + 1 {
		if !engine.ValidAppUID(next) {
			next = engine.FirstAppUID
		}
		uid := next
		next++
		if _, taken := used[uid]; taken {
			continue
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(next))
		if err := meta.Put(keyNextUID, b[:]); err != nil {
			return 0, fmt.Errorf("record the next uid: %w", err)
		}
		used[uid] = app
		return uid, nil
	}
	return 0, engine.Errorf(engine.ECONFLICT, "Every uid hako gives to apps (%d to %d) is taken: destroy an app first.", engine.FirstAppUID, engine.LastAppUID)
}

// assignUIDs gives a uid to every app recorded before apps had one, and a
// new one to any app whose uid is out of range or shared with another (a
// damaged record), so that no two apps ever run as the same user. Apps
// are visited in name order, so the first keeps a shared uid.
func assignUIDs(tx *bolt.Tx) error {
	used := map[int]string{}
	var fix []*engine.App
	err := tx.Bucket(bucketApps).ForEach(func(k, v []byte) error {
		a := new(engine.App)
		if err := decode(k, v, a); err != nil {
			return err
		}
		if _, dup := used[a.UID]; !engine.ValidAppUID(a.UID) || dup {
			fix = append(fix, a)
			return nil
		}
		used[a.UID] = a.Name
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range fix {
		if a.UID, err = allocUID(tx, used, a.Name); err != nil {
			return err
		}
		if err := putApp(tx, a); err != nil {
			return err
		}
	}
	return nil
}
