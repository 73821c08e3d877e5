//! A closed form compiled for a sweep: the Laurent polynomial of a quantity in the swept symbols
//! (every other symbol already substituted), evaluated exactly at each grid point — with 128-bit
//! integers while they suffice, with big integers when a product would overflow.

use crate::algebra::{Rational, Term};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

/// Σ Nᵢ·Π xⱼ^(kᵢⱼ + mⱼ) / (D·Π xⱼ^mⱼ): integer numerators over a common denominator, every power
/// shifted to be non-negative (mⱼ is the deepest negative power of xⱼ).
#[derive(Clone, Debug)]
pub struct Poly {
    /// Per term: the integer numerator and the (shifted) power of each variable.
    terms: Vec<(BigInt, Vec<u32>)>,
    /// The same numerators where they fit 128 bits.
    small: Option<Vec<i128>>,
    denominator: BigInt,
    /// The shift mⱼ of each variable.
    shift: Vec<u32>,
    /// No denominator and no negative power: the numerator is the value.
    whole: bool,
}

impl Poly {
    /// Compiles monomials over `variables` (symbols outside the list must not occur).
    pub fn compile(monomials: &[Term], variables: &[String]) -> Poly {
        let denominator = monomials.iter().fold(BigInt::one(), |d, t| d.lcm(t.coeff.denom()));
        let power = |t: &Term, v: &str| t.powers.get(v).copied().unwrap_or(0);
        let shift: Vec<u32> = variables
            .iter()
            .map(|v| monomials.iter().map(|t| (-power(t, v)).max(0) as u32).max().unwrap_or(0))
            .collect();
        let terms: Vec<(BigInt, Vec<u32>)> = monomials
            .iter()
            .filter(|t| !t.coeff.is_zero())
            .map(|t| {
                let numerator = t.coeff.numer() * (&denominator / t.coeff.denom());
                let powers = variables.iter().zip(&shift).map(|(v, m)| (power(t, v) + *m as i32) as u32).collect();
                (numerator, powers)
            })
            .collect();
        let small = terms.iter().map(|(n, _)| n.to_i128()).collect();
        let whole = denominator.is_one() && shift.iter().all(|m| *m == 0);
        Poly { terms, small, denominator, shift, whole }
    }

    /// The value at `x` when it is a whole number that fits 128 bits and no division is involved
    /// (the common case: sizes, FLOPs, bytes); `None` sends the caller to [`Poly::at`].
    pub fn at_whole(&self, x: &[i128]) -> Option<i128> {
        if self.whole { self.numerator_small(x) } else { None }
    }

    /// The exact value at `x` (one value per variable, in the compiled order).
    pub fn at(&self, x: &[i128]) -> Rational {
        let numerator = self.numerator_small(x).map(BigInt::from).unwrap_or_else(|| self.numerator_big(x));
        let mut below = self.denominator.clone();
        for (xi, m) in x.iter().zip(&self.shift) {
            if *m > 0 {
                below *= num_traits::pow(BigInt::from(*xi), *m as usize);
            }
        }
        Rational::new(numerator, below)
    }

    /// The numerator in 128-bit arithmetic, or `None` if any step would overflow.
    fn numerator_small(&self, x: &[i128]) -> Option<i128> {
        let small = self.small.as_ref()?;
        let mut sum: i128 = 0;
        for ((_, powers), n) in self.terms.iter().zip(small) {
            let mut term = *n;
            for (xi, k) in x.iter().zip(powers) {
                for _ in 0..*k {
                    term = term.checked_mul(*xi)?;
                }
            }
            sum = sum.checked_add(term)?;
        }
        Some(sum)
    }

    fn numerator_big(&self, x: &[i128]) -> BigInt {
        let mut sum = BigInt::zero();
        for (n, powers) in &self.terms {
            let mut term = n.clone();
            for (xi, k) in x.iter().zip(powers) {
                if *k > 0 {
                    term *= num_traits::pow(BigInt::from(*xi), *k as usize);
                }
            }
            sum += term;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn term(coeff: (i64, i64), powers: &[(&str, i32)]) -> Term {
        Term {
            coeff: Rational::new(coeff.0.into(), coeff.1.into()),
            powers: powers.iter().map(|(s, k)| (s.to_string(), *k)).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_laurent_polynomial_evaluates_exactly_and_past_128_bits() {
        // 3/2·B·T + 5/T − 7
        let p = Poly::compile(
            &[term((3, 2), &[("B", 1), ("T", 1)]), term((5, 1), &[("T", -1)]), term((-7, 1), &[])],
            &["B".into(), "T".into()],
        );
        assert_eq!(p.at(&[4, 10]), Rational::new((60 * 10 + 5 - 70).into(), 10.into()));
        // B^3 with B = 2^60 overflows 128 bits: the big-integer path gives it exactly.
        let cube = Poly::compile(&[term((1, 1), &[("B", 3)])], &["B".into()]);
        assert_eq!(cube.at(&[1 << 60]), Rational::from_integer(BigInt::from(1u8) << 180));
    }
}
