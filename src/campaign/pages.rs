//! Splitting a reviewer's items into messages that fit Block Kit's limit of 50
//! blocks per message. Pure arithmetic; the renderer decides what the blocks are.

use std::ops::Range;

/// Block Kit's limit for one message.
pub const MAX_BLOCKS: usize = 50;

/// How many blocks a page spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Blocks per item (a section and its actions: 2).
    pub per_item: usize,
    /// Blocks on every page whatever its items (header, *Certify all*, page footer).
    pub fixed: usize,
}

/// The layout cannot fit a single item in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutTooBig(pub Layout);

impl Layout {
    /// Items per full page.
    pub fn items_per_page(self) -> Result<usize, LayoutTooBig> {
        match (self.per_item, MAX_BLOCKS.checked_sub(self.fixed)) {
            (0, _) | (_, None) => Err(LayoutTooBig(self)),
            (per_item, Some(room)) if room < per_item => Err(LayoutTooBig(self)),
            (per_item, Some(room)) => Ok(room / per_item),
        }
    }

    /// Blocks a page holding `items` items uses.
    pub fn blocks(self, items: usize) -> usize {
        self.fixed + self.per_item * items
    }
}

/// Index ranges into the reviewer's items, one per message, each full except the
/// last. No items, no pages: a reviewer with nothing to review gets no message.
pub fn pages(count: usize, layout: Layout) -> Result<Vec<Range<usize>>, LayoutTooBig> {
    let per_page = layout.items_per_page()?;
    Ok((0..count)
        .step_by(per_page)
        .map(|start| start..(start + per_page).min(count))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header + footer with *Certify all*: 2 fixed, 2 per item -> 24 items (50 blocks).
    const REVIEW: Layout = Layout {
        per_item: 2,
        fixed: 2,
    };

    /// `(start, end)` of each page, or the refusal.
    fn split(count: usize, layout: Layout) -> Result<Vec<(usize, usize)>, LayoutTooBig> {
        pages(count, layout).map(|p| p.into_iter().map(|r| (r.start, r.end)).collect())
    }

    #[test]
    fn a_page_of_exactly_fifty_blocks_is_one_message() {
        assert_eq!(REVIEW.items_per_page(), Ok(24));
        assert_eq!(REVIEW.blocks(24), 50);
        assert_eq!(split(24, REVIEW), Ok(vec![(0, 24)]));
    }

    #[test]
    fn one_item_more_starts_a_second_page() {
        assert_eq!(REVIEW.blocks(25), 52);
        assert_eq!(split(25, REVIEW), Ok(vec![(0, 24), (24, 25)]));
        assert_eq!(split(49, REVIEW), Ok(vec![(0, 24), (24, 48), (48, 49)]));
    }

    #[test]
    fn fifty_one_blocks_do_not_fit_one_message() {
        // 3 fixed + 2 per item: 23 items are 49 blocks, a 24th would make 51.
        let odd = Layout {
            per_item: 2,
            fixed: 3,
        };
        assert_eq!(odd.items_per_page(), Ok(23));
        assert_eq!(odd.blocks(23), 49);
        assert_eq!(odd.blocks(24), 51);
        assert_eq!(split(24, odd), Ok(vec![(0, 23), (23, 24)]));
    }

    #[test]
    fn one_block_per_item_fills_all_fifty() {
        let one = Layout {
            per_item: 1,
            fixed: 0,
        };
        assert_eq!(split(50, one), Ok(vec![(0, 50)]));
        assert_eq!(split(51, one), Ok(vec![(0, 50), (50, 51)]));
    }

    #[test]
    fn no_items_make_no_pages() {
        assert_eq!(split(0, REVIEW), Ok(vec![]));
    }

    #[test]
    fn a_layout_that_cannot_hold_one_item_is_refused() {
        let just_fits = Layout {
            per_item: 2,
            fixed: 48,
        };
        assert_eq!(split(3, just_fits), Ok(vec![(0, 1), (1, 2), (2, 3)]));
        for layout in [
            Layout {
                per_item: 2,
                fixed: 49,
            },
            Layout {
                per_item: 1,
                fixed: 51,
            },
            Layout {
                per_item: 0,
                fixed: 2,
            },
        ] {
            assert_eq!(split(1, layout), Err(LayoutTooBig(layout)));
        }
    }
}
