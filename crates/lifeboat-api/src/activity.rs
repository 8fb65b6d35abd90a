//! The run history the Activity page shows.

use lifeboat_core::catalog::RunFilter;

use crate::{dto::*, ApiResult, App};

impl App {
    /// The run history, newest first.
    pub async fn activity(&self, filter: ActivityFilter) -> ApiResult<Vec<ActivityEntry>> {
        let runs = self
            .catalog
            .runs(&RunFilter {
                kinds: filter.kinds,
                statuses: filter.statuses,
                repository_id: None,
                since: None,
                limit: filter.limit,
            })
            .await?;
        Ok(runs.into_iter().map(Into::into).collect())
    }
}
