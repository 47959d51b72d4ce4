//! Where a letter goes, decided before anything is done, and what its
//! attempts came to. Here: which SMTP accounts may send it and in which
//! order, the algorithm of SPEC §3 word for word; in [`decision`], what to
//! do with the letter; in [`outcome`], the one value every result is read
//! from. Pure: no PHP, no network, no store.

pub mod decision;
pub mod outcome;

use crate::letter::headers::display_name;

/// What routing needs to know of an account.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub id: i64,
    pub active: bool,
    pub name: &'a str,
    pub email: &'a str,
    pub mailing_first: bool,
}

/// The account for a letter from `from_name <from_email>`; `None` when no
/// account matches (the caller then applies the `fallback` setting).
pub fn choose(candidates: &[Candidate], from_name: &str, from_email: &str, mailing: bool) -> Option<i64> {
    ordered(candidates, from_name, from_email, mailing).first().copied()
}

/// Every active account that matches the letter at any step of SPEC §3, in
/// the algorithm's order: the first is [`choose`]'s answer, the rest are
/// where a letter fails over to. Within a step the highest id comes first.
pub fn ordered(candidates: &[Candidate], from_name: &str, from_email: &str, mailing: bool) -> Vec<i64> {
    let name = display_name(from_name);
    let email = from_email.trim();
    // The steps of SPEC §3; step 3 (email only) takes whatever is left.
    // A mailing_first account whose name matches stands in step 1 for a
    // mailing; for any letter it stands in step 2 (name and email) otherwise.
    let step = |c: &Candidate| match (mailing && c.mailing_first, display_name(c.name) == name) {
        (true, true) => 0,
        (true, false) => 1,
        (false, true) => 2,
        (false, false) => 3,
    };
    let mut same_email: Vec<(u8, &Candidate)> =
        candidates.iter().filter(|c| c.active && same_address(c.email.trim(), email)).map(|c| (step(c), c)).collect();
    // within a step the highest id first
    same_email.sort_by_key(|(step, c)| (*step, std::cmp::Reverse(c.id)));
    same_email.iter().map(|(_, c)| c.id).collect()
}

/// Two addresses compared as lower case (every letter routed compares its
/// From with each account's: no copy when both are ASCII, as nearly all are).
fn same_address(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, name: &'static str, email: &'static str, mailing_first: bool) -> Candidate<'static> {
        Candidate { id, active: true, name, email, mailing_first }
    }

    fn accounts() -> Vec<Candidate<'static>> {
        vec![
            account(1, "Shop", "shop@site.ru", false),
            account(2, "Shop", "shop@site.ru", false),
            account(3, "Shop", "shop@site.ru", true),
            account(4, "News", "shop@site.ru", true),
            account(5, "Other", "shop@site.ru", false),
            account(6, "Info", "info@site.ru", false),
        ]
    }

    #[test]
    fn mailing_prefers_mailing_first_with_name_and_email() {
        assert_eq!(choose(&accounts(), "Shop", "shop@site.ru", true), Some(3));
        assert_eq!(choose(&accounts(), "News", "shop@site.ru", true), Some(4));
    }

    #[test]
    fn mailing_falls_back_to_mailing_first_by_email_highest_id() {
        assert_eq!(choose(&accounts(), "Nobody", "shop@site.ru", true), Some(4));
    }

    #[test]
    fn mailing_without_mailing_first_accounts_goes_to_step_two_and_three() {
        let list = vec![account(1, "Shop", "shop@site.ru", false), account(2, "Else", "shop@site.ru", false)];
        assert_eq!(choose(&list, "Shop", "shop@site.ru", true), Some(1));
        assert_eq!(choose(&list, "Nobody", "shop@site.ru", true), Some(2));
    }

    #[test]
    fn ordinary_letter_takes_name_and_email_highest_id() {
        // mailing_first accounts take part in steps 2 and 3 like any other
        assert_eq!(choose(&accounts(), "Shop", "shop@site.ru", false), Some(3));
        assert_eq!(choose(&accounts(), "Other", "shop@site.ru", false), Some(5));
    }

    #[test]
    fn ordinary_letter_falls_back_to_email_highest_id() {
        assert_eq!(choose(&accounts(), "Nobody", "shop@site.ru", false), Some(5));
        assert_eq!(choose(&accounts(), "", "INFO@Site.RU", false), Some(6));
    }

    #[test]
    fn no_match_is_none() {
        assert_eq!(choose(&accounts(), "Shop", "nobody@site.ru", false), None);
        assert_eq!(choose(&accounts(), "Shop", "nobody@site.ru", true), None);
        assert_eq!(choose(&[], "Shop", "shop@site.ru", false), None);
    }

    #[test]
    fn inactive_accounts_never_take_part() {
        let mut list = accounts();
        for c in list.iter_mut().filter(|c| c.id >= 3) {
            c.active = false;
        }
        assert_eq!(choose(&list, "Shop", "shop@site.ru", true), Some(2));
        assert_eq!(choose(&list, "News", "shop@site.ru", true), Some(2));
        assert_eq!(choose(&list, "Info", "info@site.ru", false), None);
    }

    #[test]
    fn names_compare_exactly_after_trimming_quotes_and_space() {
        let list = vec![account(1, "Shop", "a@site.ru", false), account(2, " \"Магазин\" ", "a@site.ru", false)];
        assert_eq!(choose(&list, "'Магазин'", "a@site.ru", false), Some(2));
        assert_eq!(choose(&list, "  Shop ", "a@site.ru", false), Some(1));
        // exact otherwise: case matters for names
        assert_eq!(choose(&list, "shop", "a@site.ru", false), Some(2));
    }

    #[test]
    fn every_matching_account_is_a_candidate_in_the_algorithms_order() {
        // mailing: step 1 (mailing_first, name + email), step 1b (mailing_first, email),
        // step 2 (name + email), step 3 (email); highest id first within each
        assert_eq!(ordered(&accounts(), "Shop", "shop@site.ru", true), vec![3, 4, 2, 1, 5]);
        assert_eq!(ordered(&accounts(), "Nobody", "shop@site.ru", true), vec![4, 3, 5, 2, 1]);
        // not a mailing: name + email first, then the rest with that email
        assert_eq!(ordered(&accounts(), "Shop", "shop@site.ru", false), vec![3, 2, 1, 5, 4]);
        assert_eq!(ordered(&accounts(), "Info", "INFO@site.ru", false), vec![6]);
        assert!(ordered(&accounts(), "Shop", "nobody@site.ru", false).is_empty());
    }

    #[test]
    fn the_first_candidate_is_always_the_chosen_account() {
        let names = ["Shop", "News", "Other", "Info", "Nobody", ""];
        let emails = ["shop@site.ru", "info@site.ru", "x@site.ru"];
        for mask in 0..64u32 {
            let mut list = accounts();
            for (i, c) in list.iter_mut().enumerate() {
                c.active = mask & (1 << i) != 0;
            }
            for name in names {
                for email in emails {
                    for mailing in [false, true] {
                        let all = ordered(&list, name, email, mailing);
                        assert_eq!(choose(&list, name, email, mailing), all.first().copied());
                        assert!(all.iter().all(|id| list.iter().any(|c| c.id == *id && c.active)));
                    }
                }
            }
        }
    }

    #[test]
    fn empty_letter_name_matches_empty_account_name_first() {
        let list = vec![account(1, "", "a@site.ru", false), account(2, "Named", "a@site.ru", false)];
        assert_eq!(choose(&list, "", "a@site.ru", false), Some(1));
    }
}
