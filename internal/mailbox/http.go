package mailbox

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Handler serves the box read-only:
//
//	GET /api/messages?to=ADDRESS   the messages (to ADDRESS), newest first
//	GET /api/messages/{id}         one message
//	GET /api/messages/{id}/raw     one message as received (message/rfc822)
//	GET /api/stats                 {"received": every message ever numbered, "kept": those kept}
func Handler(b *Box) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.Messages(r.URL.Query().Get("to")))
	})
	mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]int{"received": b.Received(), "kept": len(b.Messages(""))})
	})
	mux.HandleFunc("GET /api/messages/{id}", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := find(b, w, r); ok {
			writeJSON(w, m)
		}
	})
	mux.HandleFunc("GET /api/messages/{id}/raw", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := find(b, w, r); ok {
			w.Header().Set("Content-Type", "message/rfc822")
			_, _ = w.Write(m.Raw)
		}
	})
	return mux
}

func find(b *Box, w http.ResponseWriter, r *http.Request) (Message, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		http.Error(w, "no such message", http.StatusNotFound)
		return Message{}, false
	}
	m, ok := b.Message(id)
	if !ok {
		http.Error(w, "no such message", http.StatusNotFound)
	}
	return m, ok
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
