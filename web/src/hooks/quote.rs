//! [`use_quote`]: the signed-in person's quote and the three requests that
//! change it (load on mount, save, delete), as one reducer. The page that
//! uses it only renders [`QuoteState`] and calls [`UseQuote`]'s callbacks.
//!
//! Every request goes through [`crate::api`] (which replaces a token the
//! API refused as expired, once), and every failure through its
//! `message`, except a refused token: that signs out instead (the auth
//! context's `on_token_refused`), since no retry here can fix it.
//!
//! The editor's text is kept in `sessionStorage` ([`crate::storage`]) from
//! the first keystroke until it is saved or the quote deleted, so that it
//! survives a reload and signing in again after a refused token.

use std::future::Future;
use std::ops::Deref;
use std::rc::Rc;

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::{self, Api, MAX_QUOTE_CHARS, Problem, Quote, counted_chars};
use crate::auth::{Session, TokenSource, use_auth};
use crate::storage;

/// The request under way; one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Loading,
    Saving,
    Deleting,
}

/// What the last finished request did, for the status line (a polite
/// live region: screen readers say it without moving focus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Saved,
    Deleted,
}

/// Where the keyboard focus goes after an action, so that it never falls
/// to the page's body when the control that had it goes away or is
/// disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The text area: after saving, deleting, or a refused save.
    Editor,
    /// "Keep it", the confirmation's safe answer, when it opens.
    KeepIt,
    /// "Delete quote", when the confirmation closes without deleting.
    DeleteButton,
}

/// The quote as the page shows it.
#[derive(Debug, Clone, Default)]
pub struct QuoteState {
    /// The stored quote, once known; `None` also while there is none.
    pub stored: Option<Quote>,
    /// The editor's text, saved or not.
    pub draft: String,
    pub busy: Option<Busy>,
    /// What went wrong with the last request, for people to read.
    pub error: Option<String>,
    /// The error is about the text (the API refused it): it belongs to
    /// the text area, and goes away once the text changes.
    pub error_about_text: bool,
    /// What the last request did, until the text changes.
    pub done: Option<Done>,
    /// The delete confirmation is open.
    pub confirming_delete: bool,
    /// Where focus goes next, and a counter that changes with every move
    /// (the same place twice in a row is still a move).
    pub focus: Option<(Focus, u32)>,
}

impl QuoteState {
    fn move_focus(&mut self, to: Focus) {
        let turn = self.focus.map_or(0, |(_, turn)| turn.wrapping_add(1));
        self.focus = Some((to, turn));
    }

    /// The draft is over the API's limit: saving it cannot succeed.
    pub fn over_limit(&self) -> bool {
        counted_chars(&self.draft) > MAX_QUOTE_CHARS
    }
}

/// What changes the state.
#[derive(Debug)]
pub enum QuoteAction {
    Start(Busy),
    /// The stored quote arrived; `unsaved` is text typed before (a
    /// reload, or signing in again), which the editor shows instead.
    Loaded {
        quote: Option<Quote>,
        unsaved: Option<String>,
    },
    Saved(Quote),
    Deleted,
    /// A request failed; `about_text` when the API refused the text itself.
    Failed {
        message: String,
        about_text: bool,
    },
    Edit(String),
    AskDelete,
    CancelDelete,
}

impl Reducible for QuoteState {
    type Action = QuoteAction;

    fn reduce(self: Rc<Self>, action: QuoteAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            QuoteAction::Start(busy) => {
                next.busy = Some(busy);
                next.error = None;
                next.error_about_text = false;
                next.done = None;
            }
            QuoteAction::Loaded { quote, unsaved } => {
                next.draft = unsaved
                    .unwrap_or_else(|| quote.as_ref().map(|q| q.quote.clone()).unwrap_or_default());
                next.stored = quote;
                next.busy = None;
            }
            QuoteAction::Saved(quote) => {
                next.draft.clone_from(&quote.quote);
                next.stored = Some(quote);
                next.busy = None;
                next.done = Some(Done::Saved);
                next.move_focus(Focus::Editor);
            }
            QuoteAction::Deleted => {
                next.stored = None;
                next.draft.clear();
                next.busy = None;
                next.confirming_delete = false;
                next.done = Some(Done::Deleted);
                next.move_focus(Focus::Editor);
            }
            QuoteAction::Failed {
                message,
                about_text,
            } => {
                let failed = next.busy.take();
                next.error = Some(message);
                next.error_about_text = about_text;
                // A failed delete closes the confirmation: back to the
                // button that opened it. A failed save: to the text. A
                // failed load moves nothing (nothing had focus yet).
                match failed {
                    Some(Busy::Deleting) => next.move_focus(Focus::DeleteButton),
                    Some(Busy::Saving) => next.move_focus(Focus::Editor),
                    Some(Busy::Loading) | None => {}
                }
                next.confirming_delete = false;
            }
            QuoteAction::Edit(text) => {
                next.draft = text;
                next.done = None;
                // The refusal was about the old text; the new one may be fine.
                if next.error_about_text {
                    next.error = None;
                    next.error_about_text = false;
                }
            }
            QuoteAction::AskDelete => {
                next.confirming_delete = true;
                next.move_focus(Focus::KeepIt);
            }
            QuoteAction::CancelDelete => {
                next.confirming_delete = false;
                next.move_focus(Focus::DeleteButton);
            }
        }
        Rc::new(next)
    }
}

/// What [`use_quote`] gives a page: the state (through `Deref`) and what
/// the page may do with it.
pub struct UseQuote {
    state: UseReducerHandle<QuoteState>,
    /// The editor's text changed.
    pub edit: Callback<String>,
    /// Saves the draft; ignored while another request is under way.
    pub save: Callback<()>,
    /// Opens the delete confirmation.
    pub ask_delete: Callback<()>,
    /// Closes it and keeps the quote.
    pub cancel_delete: Callback<()>,
    /// Deletes the stored quote.
    pub delete: Callback<()>,
}

impl Deref for UseQuote {
    type Target = QuoteState;

    fn deref(&self) -> &QuoteState {
        &self.state
    }
}

/// The quote of the signed-in `session`, loaded when the component
/// mounts. Only inside `<AuthProvider>` (it reads where the API is, and
/// whom to tell about a refused token).
#[hook]
pub fn use_quote(session: Rc<Session>) -> UseQuote {
    let auth = use_auth();
    let state = use_reducer(|| QuoteState {
        busy: Some(Busy::Loading),
        ..QuoteState::default()
    });
    let requests = Requests {
        api_base: auth.config.api_base.clone(),
        token_source: session.token_source.clone(),
        dispatcher: state.dispatcher(),
        on_token_refused: auth.on_token_refused.clone(),
    };
    let user = session.user_id.clone();

    {
        let requests = requests.clone();
        let user = user.clone();
        use_effect_with((), move |()| {
            requests.send(
                |api| async move { api.quote().await },
                move |quote| QuoteAction::Loaded {
                    quote,
                    unsaved: storage::draft_for(&user),
                },
            );
        });
    }

    let save = {
        let state = state.clone();
        let requests = requests.clone();
        Callback::from(move |()| {
            // The API would refuse it; the editor already says why.
            if state.busy.is_some() || state.over_limit() {
                return;
            }
            let text = state.draft.clone();
            state.dispatch(QuoteAction::Start(Busy::Saving));
            requests.send(
                move |api| {
                    let text = text.clone();
                    async move { api.save(&text).await }
                },
                |quote| {
                    storage::forget_draft();
                    QuoteAction::Saved(quote)
                },
            );
        })
    };

    let delete = {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| {
            dispatcher.dispatch(QuoteAction::Start(Busy::Deleting));
            requests.send(
                |api| async move { api.delete().await },
                |()| {
                    storage::forget_draft();
                    QuoteAction::Deleted
                },
            );
        })
    };

    let dispatch = |action: fn() -> QuoteAction| {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| dispatcher.dispatch(action()))
    };
    let edit = {
        let dispatcher = state.dispatcher();
        Callback::from(move |text: String| {
            storage::keep_draft(&user, &text);
            dispatcher.dispatch(QuoteAction::Edit(text));
        })
    };

    UseQuote {
        edit,
        save,
        ask_delete: dispatch(|| QuoteAction::AskDelete),
        cancel_delete: dispatch(|| QuoteAction::CancelDelete),
        delete,
        state,
    }
}

/// What a request needs: where the API is, where the token comes from,
/// and where its answer goes.
#[derive(Clone)]
struct Requests {
    api_base: String,
    token_source: TokenSource,
    dispatcher: UseReducerDispatcher<QuoteState>,
    on_token_refused: Callback<()>,
}

impl Requests {
    /// Runs `call` in the background and dispatches what `done` makes of
    /// its answer. A client per call, with the token of the moment (renewed
    /// or, with Clerk, short-lived); `call` may run twice when the first
    /// token was refused as expired. A token still refused signs out, once,
    /// with a notice; any other failure is shown.
    fn send<T, F>(
        &self,
        call: impl Fn(Api) -> F + 'static,
        done: impl FnOnce(T) -> QuoteAction + 'static,
    ) where
        T: 'static,
        F: Future<Output = Result<T, Problem>> + 'static,
    {
        let requests = self.clone();
        spawn_local(async move {
            let answer = api::with_token(&requests.api_base, &requests.token_source, call).await;
            match answer {
                Ok(value) => requests.dispatcher.dispatch(done(value)),
                Err(problem) if api::is_unauthorized(&problem) => {
                    requests.on_token_refused.emit(());
                }
                Err(problem) => requests.dispatcher.dispatch(QuoteAction::Failed {
                    message: api::message(&problem),
                    about_text: api::is_about_the_text(&problem),
                }),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use yew::Reducible;

    use super::{Busy, Done, Focus, Quote, QuoteAction, QuoteState};

    fn stored(text: &str) -> Quote {
        Quote {
            quote: text.to_owned(),
            created_at: "2026-11-26T08:00:00Z".to_owned(),
            updated_at: "2026-11-26T09:30:00Z".to_owned(),
        }
    }

    fn after(actions: impl IntoIterator<Item = QuoteAction>) -> Rc<QuoteState> {
        actions
            .into_iter()
            .fold(Rc::new(QuoteState::default()), Reducible::reduce)
    }

    fn loaded(text: &str) -> QuoteAction {
        QuoteAction::Loaded {
            quote: Some(stored(text)),
            unsaved: None,
        }
    }

    #[test]
    fn a_loaded_quote_is_also_the_draft() {
        let state = after([QuoteAction::Start(Busy::Loading), loaded("Less is more.")]);
        assert_eq!(state.draft, "Less is more.");
        assert!(state.stored.is_some());
        assert_eq!(state.busy, None);
    }

    #[test]
    fn text_typed_before_signing_in_again_wins_over_the_stored_quote() {
        let state = after([
            QuoteAction::Start(Busy::Loading),
            QuoteAction::Loaded {
                quote: Some(stored("Less is more.")),
                unsaved: Some("More is more, after all".to_owned()),
            },
        ]);
        assert_eq!(state.draft, "More is more, after all");
        assert_eq!(
            state.stored.as_ref().map(|q| q.quote.as_str()),
            Some("Less is more."),
            "the stored quote is still the stored one"
        );
        let none_stored = after([QuoteAction::Loaded {
            quote: None,
            unsaved: Some("First words".to_owned()),
        }]);
        assert_eq!(none_stored.draft, "First words");
        assert!(none_stored.stored.is_none());
    }

    #[test]
    fn cancel_delete_keeps_the_quote() {
        let state = after([
            loaded("Less is more."),
            QuoteAction::AskDelete,
            QuoteAction::CancelDelete,
        ]);
        assert!(!state.confirming_delete);
        assert!(state.stored.is_some());
        assert_eq!(state.draft, "Less is more.");
    }

    #[test]
    fn a_failure_keeps_the_draft_and_closes_the_confirmation() {
        let state = after([
            loaded("Less is more."),
            QuoteAction::Edit("More is more.".to_owned()),
            QuoteAction::AskDelete,
            QuoteAction::Start(Busy::Deleting),
            QuoteAction::Failed {
                message: "The quotes API could not be reached.".to_owned(),
                about_text: false,
            },
        ]);
        assert_eq!(state.draft, "More is more.");
        assert!(state.stored.is_some());
        assert!(!state.confirming_delete);
        assert_eq!(state.busy, None);
        assert_eq!(
            state.error.as_deref(),
            Some("The quotes API could not be reached.")
        );
    }

    #[test]
    fn a_new_request_clears_the_last_error() {
        let state = after([
            QuoteAction::Failed {
                message: "No answer.".to_owned(),
                about_text: false,
            },
            QuoteAction::Start(Busy::Saving),
        ]);
        assert_eq!(state.error, None);
        assert_eq!(state.busy, Some(Busy::Saving));
    }

    #[test]
    fn a_refused_text_is_the_fields_error_until_the_text_changes() {
        let state = after([
            loaded("Less is more."),
            QuoteAction::Start(Busy::Saving),
            QuoteAction::Failed {
                message: "The quote has no visible character.".to_owned(),
                about_text: true,
            },
        ]);
        assert!(state.error_about_text);
        assert_eq!(state.focus.map(|(to, _)| to), Some(Focus::Editor));
        let fixed = Reducible::reduce(state, QuoteAction::Edit("Better.".to_owned()));
        assert_eq!(fixed.error, None);
        // An outage is not fixed by typing: its message stays.
        let outage = after([
            QuoteAction::Failed {
                message: "The quotes API could not be reached.".to_owned(),
                about_text: false,
            },
            QuoteAction::Edit("Anything.".to_owned()),
        ]);
        assert!(outage.error.is_some());
    }

    #[test]
    fn focus_follows_the_confirmation_and_the_results() {
        let opened = after([loaded("Less is more."), QuoteAction::AskDelete]);
        assert_eq!(opened.focus.map(|(to, _)| to), Some(Focus::KeepIt));
        let kept = Reducible::reduce(opened.clone(), QuoteAction::CancelDelete);
        assert_eq!(kept.focus.map(|(to, _)| to), Some(Focus::DeleteButton));
        let failed = Reducible::reduce(
            Reducible::reduce(opened, QuoteAction::Start(Busy::Deleting)),
            QuoteAction::Failed {
                message: "No answer.".to_owned(),
                about_text: false,
            },
        );
        assert_eq!(failed.focus.map(|(to, _)| to), Some(Focus::DeleteButton));
        let deleted = after([
            loaded("Less is more."),
            QuoteAction::AskDelete,
            QuoteAction::Deleted,
        ]);
        assert_eq!(deleted.focus.map(|(to, _)| to), Some(Focus::Editor));
        assert_eq!(deleted.done, Some(Done::Deleted));
        // Saving twice moves focus twice: the turn tells the moves apart.
        let once = after([QuoteAction::Saved(stored("a"))]);
        let twice = Reducible::reduce(once.clone(), QuoteAction::Saved(stored("b")));
        assert_ne!(once.focus, twice.focus);
        assert_eq!(twice.done, Some(Done::Saved));
        let edited = Reducible::reduce(twice, QuoteAction::Edit("c".to_owned()));
        assert_eq!(edited.done, None, "\"Saved\" no longer true once edited");
    }

    #[test]
    fn a_save_that_fails_while_the_question_is_open_goes_back_to_the_text() {
        let state = after([
            loaded("Less is more."),
            QuoteAction::AskDelete,
            QuoteAction::Start(Busy::Saving),
            QuoteAction::Failed {
                message: "No answer.".to_owned(),
                about_text: false,
            },
        ]);
        assert_eq!(state.focus.map(|(to, _)| to), Some(Focus::Editor));
        assert!(!state.confirming_delete);
    }

    #[test]
    fn over_the_limit_is_known_before_sending() {
        let state = after([QuoteAction::Edit("x".repeat(1001))]);
        assert!(state.over_limit());
        let state = after([QuoteAction::Edit(format!("  {}  ", "x".repeat(1000)))]);
        assert!(
            !state.over_limit(),
            "surrounding spaces are trimmed, as the API does"
        );
    }
}
