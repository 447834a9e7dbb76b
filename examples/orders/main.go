// orders: a small HTTP service with a bug. Its background reconciler reads a stock level for
// an order whose SKU is not in the warehouse map, and panics with a Fault whose fields only a
// core can show (the traceback prints just an address).
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

type Fault struct {
	Code   int
	Reason string
	SKU    string
}

type Order struct {
	ID  int
	SKU string
	Qty int
}

var warehouse = map[string]int{"apple": 12, "pear": 3}

func reserve(o Order, apiToken string) int {
	stock, ok := warehouse[o.SKU]
	if !ok {
		panic(Fault{Code: 503, Reason: "unknown SKU in reservation", SKU: o.SKU})
	}
	_ = apiToken
	return stock - o.Qty
}

func reconcile(queue []Order) {
	token := os.Getenv("ORDERS_API_TOKEN")
	for i, o := range queue {
		time.Sleep(100 * time.Millisecond)
		left := reserve(o, token)
		log.Printf("order %d reserved, %d left", i, left)
	}
}

func listener() net.Listener {
	// Under `hotdump run --listen` (or dev --listen) the socket is inherited at fd 3.
	if os.Getenv("LISTEN_FDS") == "1" && os.Getenv("LISTEN_PID") == fmt.Sprint(os.Getpid()) {
		if l, err := net.FileListener(os.NewFile(3, "listener")); err == nil {
			return l
		}
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8089"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	return l
}

func main() {
	l := listener()
	log.Printf("orders listening on %s", l.Addr())
	go reconcile([]Order{{1, "apple", 2}, {2, "pear", 1}, {3, "banana", 4}})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%d SKUs\n", len(warehouse)) })
	log.Fatal(http.Serve(l, nil))
}
