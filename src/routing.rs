//! Which SMTP account sends a letter: the algorithm of SPEC §3, word for word.
//! Pure: it sees only the accounts' routing fields and the letter's From.

use crate::headers::clean_display_name;

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
    let name = clean_display_name(from_name);
    let email = from_email.trim().to_lowercase();
    let active: Vec<&Candidate> = candidates.iter().filter(|c| c.active).collect();
    let same_email = |c: &&&Candidate| c.email.trim().to_lowercase() == email;
    let same_name = |c: &&&Candidate| clean_display_name(c.name) == name;
    let highest = |found: Vec<&&Candidate>| found.iter().map(|c| c.id).max();

    if mailing {
        let first: Vec<&&Candidate> = active.iter().filter(|c| c.mailing_first).filter(same_email).collect();
        let by_name_and_email = highest(first.iter().copied().filter(same_name).collect());
        if let Some(id) = by_name_and_email.or_else(|| highest(first)) {
            return Some(id);
        }
    }
    let by_email: Vec<&&Candidate> = active.iter().filter(same_email).collect();
    highest(by_email.iter().copied().filter(same_name).collect()).or_else(|| highest(by_email))
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
    fn empty_letter_name_matches_empty_account_name_first() {
        let list = vec![account(1, "", "a@site.ru", false), account(2, "Named", "a@site.ru", false)];
        assert_eq!(choose(&list, "", "a@site.ru", false), Some(1));
    }
}
