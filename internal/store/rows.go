package store

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// The rows an intake writes in bulk: the chunk sizes of its multi-row
// INSERTs, the statement for its deliveries, and the ids it gives them.

// insertChunks are the row counts of the multi-row INSERTs, largest first:
// a few statement texts cover any number of rows.
var insertChunks = []int{64, 16, 4, 1}

// chunkOf returns the largest of sizes (largest first, ending in 1) that
// is at most n.
func chunkOf(n int, sizes []int) int {
	for _, c := range sizes {
		if n >= c {
			return c
		}
	}
	return 1
}

// deliveryInsertColumns is the number of values insertDeliveries takes per
// row.
const deliveryInsertColumns = 16

// insertDeliveries returns the statement that inserts n deliveries, n one
// of insertChunks.
func insertDeliveries(n int) string { return insertDeliveriesBySize[n] }

var insertDeliveriesBySize = func() map[int]string {
	row := "(" + placeholders(deliveryInsertColumns) + ")"
	qs := make(map[int]string, len(insertChunks))
	for _, n := range insertChunks {
		qs[n] = `INSERT INTO deliveries
		(id, event_id, rule, sink, title, text, templated, state, next_attempt_at, created_at, queued_at, updated_at,
		 attempts, lease_until, lease_owner, event_at)
		VALUES ` + rowsOf(row, n)
	}
	return qs
}()

// DeliveryID is the id of the delivery of an event by a rule to a sink;
// webhook sinks send it as webhook-id. It is made once, when the event is
// stored, from the time it was received, the event's place in its callback
// (seq: 0 for the first) and a hash of the event, rule and sink: ids sort
// by time, so the indexes keyed by them (deliveries, attempts) grow at
// their end rather than at random pages, which keeps the pages an intake
// commit writes few; and the events of one callback, which share their
// time, sort in the callback's order, which a thread's messages are sent
// in.
func DeliveryID(eventID string, receivedAt time.Time, seq int, rule, sink string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(receivedAt.UnixMilli())<<16|uint64(min(max(seq, 0), 0xffff)))
	sum := sha256.Sum256([]byte(eventID + "\x00" + rule + "\x00" + sink))
	copy(b[8:], sum[:8])
	return "msg_" + idEncoding.EncodeToString(b[:])
}

// idEncoding is base32 with an alphabet in ASCII order, so ids compare as
// the bytes they encode.
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)
