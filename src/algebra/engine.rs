//! The bridge to symbolica: the only file that names it (with `worker.rs`, which makes its first
//! call). Expressions cross the bridge as trees, both ways: tally's [`Expr`] is built into an atom
//! node by node, and symbolica's result is read back by walking its atom views (sums, products,
//! powers, numbers, variables). Nothing is ever printed and re-read, so what symbolica prints (on a
//! terminal it colours its output) cannot reach tally's results.
//!
//! An [`Engine`] exists only on the session's worker thread, so every call into symbolica happens
//! where the per-user permit is held; the type system, not a convention, enforces it.

use super::expr::{Expr, Rational};
use super::failure::AlgebraError;
use super::layout::Term;
use super::limits;
use num_bigint::BigInt;
use num_traits::{One, Zero};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use symbolica::atom::{Atom, AtomCore, AtomView, Symbol};
use symbolica::coefficient::CoefficientView;
use symbolica::domains::integer::Integer;

/// Symbols are created in symbolica under this prefix, so no name of tally's can clash with one
/// of symbolica's built-ins.
const PREFIX: &str = "tly_";

/// Access to symbolica. Created only by the session's worker thread (the algebra's worker); neither
/// `Send` nor `Sync`, so it cannot leave that thread. Results of expansions are remembered for the
/// life of the engine: derivations ask for the same closed forms many times.
pub struct Engine {
    /// Expansions, each with whether its terms are already in written order (tally's own
    /// expansion keeps it; symbolica's has its own order).
    expanded: RefCell<FxHashMap<Expr, (Expr, bool)>>,
    /// Closed forms already laid out, by layout and expression.
    pub(super) simplified: RefCell<FxHashMap<super::LayoutRules, FxHashMap<Expr, Expr>>>,
    /// Told before the first call into symbolica (the worker must then end before unlocking).
    started_symbolica: Arc<AtomicBool>,
    _one_thread: PhantomData<*const ()>,
}

impl Engine {
    /// Only the worker thread calls this, after it has made symbolica's first call.
    pub(super) fn on_worker_thread(started_symbolica: Arc<AtomicBool>) -> Engine {
        Engine {
            // A derivation expands about a hundred forms: room for them without rehashing.
            expanded: RefCell::new(FxHashMap::with_capacity_and_hasher(256, Default::default())),
            simplified: RefCell::default(),
            started_symbolica,
            _one_thread: PhantomData,
        }
    }

    /// Multiplies out every product and power (with cancellation, `A·(H/A)` → `H`): a Laurent
    /// polynomial by tally's own arithmetic, anything else by symbolica.
    pub fn expand(&self, e: &Expr) -> Result<Expr, AlgebraError> {
        Ok(self.expand_ordered(e)?.0)
    }

    /// [`Engine::expand`], and whether the terms come in the order they first appear when `e` is
    /// multiplied out left to right.
    pub(super) fn expand_ordered(&self, e: &Expr) -> Result<(Expr, bool), AlgebraError> {
        if let Some(done) = self.expanded.borrow().get(e) {
            return Ok(done.clone());
        }
        limits::check_expandable(e)?;
        let result = match super::laurent::expand(e)? {
            Some(terms) => (super::laurent::to_expr(&terms), true),
            None => (self.expand_by_symbolica(e)?, false),
        };
        self.expanded.borrow_mut().insert(e.clone(), result.clone());
        Ok(result)
    }

    /// `e` expanded by symbolica, whatever its form (not remembered): what [`Engine::expand`]
    /// falls back to beyond Laurent polynomials, and the reference its own expansion is tested
    /// against. symbolica is started on the first call of the process.
    pub fn expand_by_symbolica(&self, e: &Expr) -> Result<Expr, AlgebraError> {
        limits::check_expandable(e)?;
        self.started_symbolica.store(true, Ordering::SeqCst);
        banner_to_stderr();
        read(to_atom(e)?.expand().as_view())
    }

    /// True when `a − b` expands to zero.
    pub fn equal(&self, a: &Expr, b: &Expr) -> Result<bool, AlgebraError> {
        Ok(self.expand(&(a.clone() - b.clone()))?.is_zero())
    }

    /// The expanded form as monomials, or `None` if it is not a (Laurent) polynomial.
    pub fn terms(&self, e: &Expr) -> Result<Option<Vec<Term>>, AlgebraError> {
        Ok(self.terms_ordered(e)?.map(|(terms, _)| terms))
    }

    /// [`Engine::terms`], and whether they come in written order (see [`Engine::expand_ordered`]).
    pub(super) fn terms_ordered(&self, e: &Expr) -> Result<Option<(Vec<Term>, bool)>, AlgebraError> {
        let (expanded, ordered) = self.expand_ordered(e)?;
        let items = match expanded {
            Expr::Add(v) => v,
            other => vec![other],
        };
        Ok(items.iter().map(monomial_of).collect::<Option<Vec<Term>>>().map(|terms| (terms, ordered)))
    }
}

/// A monomial `c · Π sᵏ` as a [`Term`]; `None` for anything else (a power of a sum).
pub fn monomial_of(e: &Expr) -> Option<Term> {
    let mut term = Term { coeff: Rational::one(), powers: BTreeMap::new() };
    let factors = match e {
        Expr::Mul(v) => v.as_slice(),
        other => std::slice::from_ref(other),
    };
    for f in factors {
        match f {
            Expr::Num(n) => term.coeff *= n,
            Expr::Sym(s) => *term.powers.entry(s.to_string()).or_insert(0) += 1,
            Expr::Pow(b, k) => match b.as_ref() {
                Expr::Sym(s) => *term.powers.entry(s.to_string()).or_insert(0) += k,
                _ => return None,
            },
            _ => return None,
        }
    }
    term.powers.retain(|_, k| *k != 0);
    Some(term)
}

fn symbol(name: &str) -> Symbol {
    let full = format!("{PREFIX}{name}");
    symbolica::symbol!(full.as_str())
}

/// An integer of any size as an atom: symbolica takes machine integers, so a larger one is built
/// from 62-bit digits (the arithmetic is exact).
fn integer(n: &BigInt) -> Atom {
    if let Ok(small) = i64::try_from(n) {
        return Atom::num(small);
    }
    let base = BigInt::one() << 62;
    let (high, low) = (n >> 62, n - ((n >> 62) << 62));
    let low = i64::try_from(&low).unwrap_or(0);
    integer(&high) * Atom::num(i64::try_from(&base).unwrap_or(i64::MAX)) + Atom::num(low)
}

fn rational(r: &Rational) -> Atom {
    if r.is_integer() { integer(r.numer()) } else { integer(r.numer()) / integer(r.denom()) }
}

/// tally's expression as a symbolica atom. A negative power of something that is identically zero
/// is refused here, before symbolica would have to divide by it.
fn to_atom(e: &Expr) -> Result<Atom, AlgebraError> {
    Ok(match e {
        Expr::Num(n) => rational(n),
        Expr::Sym(s) => Atom::var(symbol(s)),
        Expr::Add(v) => {
            let mut sum = Atom::num(0);
            for t in v {
                sum += to_atom(t)?;
            }
            sum
        }
        Expr::Mul(v) => {
            let mut product = Atom::num(1);
            for f in v {
                product *= to_atom(f)?;
            }
            product
        }
        Expr::Pow(b, k) => {
            let base = to_atom(b)?;
            if *k < 0 && base.expand().is_zero() {
                return Err(AlgebraError::DivisionByZero);
            }
            base.pow(Atom::num(i64::from(*k)))
        }
        // A floor is tally's own and is never sent (see `Expr::has_floor`).
        Expr::Floor(_) | Expr::Ceil(_) => {
            return Err(AlgebraError::Unreadable("a floor or ceiling cannot be expanded"));
        }
    })
}

/// Reads a symbolica atom back into tally's expression, node by node.
fn read(view: AtomView) -> Result<Expr, AlgebraError> {
    Ok(match view {
        AtomView::Num(n) => Expr::Num(number(n.get_coeff_view())?),
        AtomView::Var(v) => {
            let symbol = v.get_symbol();
            let name = symbol.get_name();
            let bare = name.rsplit("::").next().unwrap_or(name);
            Expr::sym(bare.strip_prefix(PREFIX).ok_or(AlgebraError::Unreadable("a symbol tally did not send"))?)
        }
        AtomView::Add(a) => Expr::sum(a.iter().map(read).collect::<Result<_, _>>()?),
        AtomView::Mul(m) => Expr::product(m.iter().map(read).collect::<Result<_, _>>()?),
        AtomView::Pow(p) => {
            let (base, exponent) = p.get_base_exp();
            let k = match exponent {
                AtomView::Num(n) => number(n.get_coeff_view())?,
                _ => return Err(AlgebraError::Unreadable("a symbolic exponent")),
            };
            let k = k
                .is_integer()
                .then(|| i32::try_from(k.numer()).ok())
                .flatten()
                .ok_or(AlgebraError::Unreadable("a fractional or huge exponent"))?;
            read(base)?.pow(k)
        }
        AtomView::Fun(_) => return Err(AlgebraError::Unreadable("a function")),
    })
}

fn number(c: CoefficientView) -> Result<Rational, AlgebraError> {
    match c {
        CoefficientView::Natural(n, d, ni, di) => {
            if ni != 0 || di != 1 {
                return Err(AlgebraError::Unreadable("a complex number"));
            }
            Ok(Rational::new(BigInt::from(n), BigInt::from(d)))
        }
        CoefficientView::Large(r, i) => {
            if !i.is_zero() {
                return Err(AlgebraError::Unreadable("a complex number"));
            }
            let r = r.to_rat();
            Ok(Rational::new(big(r.numerator_ref()), big(r.denominator_ref())))
        }
        _ => Err(AlgebraError::Unreadable("a floating-point or finite-field number")),
    }
}

/// The first symbolica call of a process (the worker routes its banner to stderr around it).
pub(super) fn warm_up() {
    let _ = symbolica::parse!("1");
}

/// A symbolica integer as tally's, digit by digit in base 2⁶² (no text involved).
fn big(n: &Integer) -> BigInt {
    if let Some(small) = n.to_i64() {
        return BigInt::from(small);
    }
    let base = Integer::new(1 << 62);
    let mut rest = n.abs();
    let mut digits = Vec::new();
    while !rest.is_zero() {
        let (quotient, remainder) = rest.quot_rem(&base);
        digits.push(remainder.to_i64().unwrap_or(0));
        rest = quotient;
    }
    let magnitude = digits.iter().rev().fold(BigInt::zero(), |acc, d| (acc << 62) + BigInt::from(*d));
    if n.is_negative() { -magnitude } else { magnitude }
}

/// Makes symbolica's first call with fd 1 pointing at an in-memory file, then copies what it
/// printed there (its licensing banner, printed on first use unless `SYMBOLICA_HIDE_BANNER` is
/// set) to stderr: stdout stays machine-readable, and a stderr that cannot be written (a full
/// disk, a closed pipe) loses the banner instead of failing symbolica's own print.
pub(super) fn banner_to_stderr() {
    static FIRST_USE: Once = Once::new();
    FIRST_USE.call_once(|| {
        let _ = std::io::stdout().flush();
        // SAFETY: plain descriptor calls on fds this function opens, and on fd 1, which is
        // restored before returning.
        let memory = unsafe { libc::memfd_create(c"tally-banner".as_ptr(), libc::MFD_CLOEXEC) };
        let saved = if memory >= 0 { unsafe { libc::dup(1) } } else { -1 };
        if saved < 0 || unsafe { libc::dup2(memory, 1) } < 0 {
            if memory >= 0 {
                unsafe { libc::close(memory) };
            }
            if saved >= 0 {
                unsafe { libc::close(saved) };
            }
            warm_up();
            return;
        }
        warm_up();
        let _ = std::io::stdout().flush();
        unsafe {
            libc::dup2(saved, 1);
            libc::close(saved);
        }
        // SAFETY: `memory` is an open descriptor owned here from now on.
        let mut printed = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(memory) };
        let mut banner = Vec::new();
        use std::io::{Read, Seek};
        if printed.seek(std::io::SeekFrom::Start(0)).is_ok() && printed.read_to_end(&mut banner).is_ok() {
            let _ = std::io::stderr().write_all(&banner);
        }
    });
}
