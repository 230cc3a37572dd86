package registry_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"forge.lthn.ai/core/go-proxy/registry"
)

// ExampleOpen registers a pool, creates an account for a miner and fetches
// the credentials the proxy uses to dial the pool on that miner's behalf.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "registry-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := registry.Open(filepath.Join(dir, "accounts.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	// Operators register the pools miners may use; the algorithm comes with it.
	err = store.AddPool(ctx, registry.Pool{Address: "ltc.example.com:3333", Family: registry.FamilySV1, Algorithm: "scrypt"})
	if err != nil {
		log.Fatal(err)
	}

	// POST /api/v1/users {"pool":..., "user":..., "password":...}
	acc, err := store.CreateAccount(ctx, "ltc.example.com:3333", "wallet.rig1", "x")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("name length:", len(acc.Name))

	// The miner logs in to the proxy with acc.Name; the proxy dials the pool.
	creds, err := store.Credentials(ctx, acc.Name)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.Pool, creds.User, creds.Password, creds.Algorithm, creds.Divider)
	fmt.Printf("logged: %s\n", creds.LogValue().Group()[3])
	// Output:
	// name length: 26
	// ltc.example.com:3333 wallet.rig1 x scrypt 65536
	// logged: password=********
}

// ExampleOpenPostgres opens the store several go-proxy instances share.
// (Not run: it needs a PostgreSQL server.)
func ExampleOpenPostgres() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "postgres://goproxy:PASSWORD@db.example.com:5432/goproxy?sslmode=require"
	store, err := registry.OpenPostgres(ctx, url)
	if err != nil {
		log.Fatal(err) // the error shows the URL as RedactURL prints it
	}
	defer store.Close()
	log.Println("account store", registry.RedactURL(url)) // postgres://goproxy:********@db.example.com:5432/...
}
