//! Atomic writes across several tables: either every write in the closure lands or none does.
//!
//! ```ignore
//! store.transaction(&[&users, &usernames], |tx| {
//!     let names = tx.table(&usernames);
//!     if names.contains(&name)? {
//!         return tx.abort(AuthError::DuplicateUsername);
//!     }
//!     names.insert(&name, &id)?;
//!     tx.table(&users).insert(&id, &user)?;
//!     Ok(())
//! })
//! ```
//!
//! sled runs the closure again when a concurrent transaction touched the same keys, so it must
//! have no side effects beyond its `tx` calls (no I/O, no channel sends, no other store calls).

use std::cell::Cell;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
    UnabortableTransactionError,
};

use super::{decode_value, encode_value, Key, Store, StoreError, Table};

/// How a transaction failed; also the error type of the closure, so `?` works on table calls.
#[derive(Debug, thiserror::Error)]
pub enum TxError<E> {
    /// The closure aborted with the caller's own error (see [`Tx::abort`]); nothing was written.
    #[error("transaction aborted: {0}")]
    Aborted(E),
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E: From<StoreError>> TxError<E> {
    /// Folds a store failure into the caller's error type.
    pub fn flatten(self) -> E {
        match self {
            TxError::Aborted(e) => e,
            TxError::Store(e) => e.into(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A [`Table`] of any key and value type, so tables of different types can share the slice
/// passed to [`Store::transaction`].
pub trait AnyTable: sealed::Sealed {
    /// The tree name.
    fn tree_name(&self) -> &'static str;

    #[doc(hidden)]
    fn sled_tree(&self) -> &sled::Tree;
}

impl<K, V> sealed::Sealed for Table<K, V> {}

impl<K, V> AnyTable for Table<K, V> {
    fn tree_name(&self) -> &'static str {
        self.name
    }

    fn sled_tree(&self) -> &sled::Tree {
        &self.tree
    }
}

/// The closure's view of a running transaction.
pub struct Tx<'a> {
    trees: &'a [TransactionalTree],
    names: &'a [&'static str],
    // Set when sled reports a conflict, so the transaction is retried even if the closure
    // swallowed the error or turned it into something else.
    conflict: Cell<bool>,
}

impl<'a> Tx<'a> {
    /// Typed access to `table`, which must be one of the tables the transaction was given;
    /// otherwise every call on the result fails with [`StoreError::NotInTransaction`].
    pub fn table<K, V>(&self, table: &Table<K, V>) -> TxTable<'_, K, V> {
        let tree = self
            .names
            .iter()
            .position(|&name| name == table.name)
            .map(|i| &self.trees[i]);
        TxTable {
            tree,
            name: table.name,
            conflict: &self.conflict,
            _types: PhantomData,
        }
    }

    /// Rolls the transaction back; [`Store::transaction`] returns [`TxError::Aborted`]`(e)`.
    /// Written as `return tx.abort(e);`.
    pub fn abort<R, E>(&self, e: E) -> Result<R, TxError<E>> {
        Err(TxError::Aborted(e))
    }
}

/// One table inside a transaction. Reads see the transaction's own earlier writes.
pub struct TxTable<'a, K, V> {
    tree: Option<&'a TransactionalTree>,
    name: &'static str,
    conflict: &'a Cell<bool>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Serialize + DeserializeOwned> TxTable<'_, K, V> {
    fn tree(&self) -> Result<&TransactionalTree, StoreError> {
        self.tree.ok_or(StoreError::NotInTransaction(self.name))
    }

    fn check<T>(&self, result: Result<T, UnabortableTransactionError>) -> Result<T, StoreError> {
        result.map_err(|e| match e {
            UnabortableTransactionError::Conflict => {
                self.conflict.set(true);
                StoreError::TxConflict
            }
            UnabortableTransactionError::Storage(e) => StoreError::Sled(e),
        })
    }

    fn decode(&self, bytes: Option<sled::IVec>) -> Result<Option<V>, StoreError> {
        bytes.map(|b| decode_value(self.name, &b)).transpose()
    }

    /// The value at `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, StoreError> {
        let bytes = self.check(self.tree()?.get(key.encode()))?;
        self.decode(bytes)
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &K) -> Result<bool, StoreError> {
        Ok(self.check(self.tree()?.get(key.encode()))?.is_some())
    }

    /// Sets `key` to `value` and returns the previous value.
    pub fn insert(&self, key: &K, value: &V) -> Result<Option<V>, StoreError> {
        let bytes = encode_value(self.name, value)?;
        let old = self.check(self.tree()?.insert(key.encode(), bytes))?;
        self.decode(old)
    }

    /// Removes `key` and returns its value.
    pub fn remove(&self, key: &K) -> Result<Option<V>, StoreError> {
        let old = self.check(self.tree()?.remove(key.encode()))?;
        self.decode(old)
    }
}

/// What travels through sled's transaction as its abort error.
enum Abort<E> {
    Domain(E),
    Store(StoreError),
}

impl Store {
    /// Runs `f` as one atomic transaction over `tables`.
    ///
    /// Inside, `tx.table(&t)` gives typed access to each listed table and `tx.abort(e)` rolls
    /// back with the caller's own error, returned as [`TxError::Aborted`]. sled may run `f`
    /// several times, so it must have no side effects and must not call other store methods.
    /// The write is not durable on return: call [`Store::flush`] before acknowledging it.
    pub fn transaction<R, E, F>(&self, tables: &[&dyn AnyTable], f: F) -> Result<R, TxError<E>>
    where
        F: Fn(&Tx<'_>) -> Result<R, TxError<E>>,
    {
        let trees: Vec<&sled::Tree> = tables.iter().map(|t| t.sled_tree()).collect();
        let names: Vec<&'static str> = tables.iter().map(|t| t.tree_name()).collect();
        let _gate = self.inner.gate.write();
        let outcome = trees.as_slice().transaction(|views| {
            let tx = Tx {
                trees: views,
                names: &names,
                conflict: Cell::new(false),
            };
            let result = f(&tx);
            if tx.conflict.get() {
                // Only sled's own Conflict makes it retry the closure.
                return Err(ConflictableTransactionError::Conflict);
            }
            result.map_err(|e| {
                ConflictableTransactionError::Abort(match e {
                    TxError::Aborted(e) => Abort::Domain(e),
                    TxError::Store(e) => Abort::Store(e),
                })
            })
        });
        outcome.map_err(|e| match e {
            TransactionError::Abort(Abort::Domain(e)) => TxError::Aborted(e),
            TransactionError::Abort(Abort::Store(e)) => TxError::Store(e),
            TransactionError::Storage(e) => TxError::Store(e.into()),
        })
    }
}
